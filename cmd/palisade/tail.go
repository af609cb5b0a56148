package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/source"
)

func init() {
	var (
		format, stateFile, fieldMapFile, sourceName, scheme string
		fields                                              []string
		fromStart, once                                     bool
		maxErrors                                           int
	)
	cmd := &cobra.Command{
		Use:   "tail [flags] FILE",
		Short: "Follow an access log (exchange NDJSON, NGINX or Envoy JSON) and write exchange records to stdout",
		Long: `Follows FILE like "tail -F" (rotation and truncation handled) and writes one
exchange-v1 record per line to standard output, ready for "palisade analyze -"
or the ingestion API. Rejected lines are reported on standard error with their
line number and field. See docs/sources.md for the formats and field maps.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fm := map[string]string{}
			if fieldMapFile != "" {
				b, err := os.ReadFile(fieldMapFile)
				if err != nil {
					return exitCode(2, fmt.Errorf("--field-map: %w", err))
				}
				if err := (&config.Loader{}).Decode(config.Doc{Name: fieldMapFile, Data: b}, &fm); err != nil {
					return exitCode(2, fmt.Errorf("--field-map: want an object of key: target strings: %w", err))
				}
			}
			for _, f := range fields {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k == "" || v == "" {
					return exitCode(2, fmt.Errorf("--field %q: want KEY=TARGET", f))
				}
				fm[k] = v
			}
			t, err := source.NewTail(source.TailOptions{
				Path: args[0], Format: source.Format(format), FromStart: fromStart || once, StateFile: stateFile, Once: once,
				LineOptions: source.LineOptions{FieldMap: fm, Source: sourceName, DefaultScheme: scheme},
			})
			if err != nil {
				return exitCode(2, err)
			}
			out := &stdoutSink{w: bufio.NewWriterSize(os.Stdout, 256<<10), maxErrors: maxErrors}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := t.Run(ctx, out); err != nil {
				if errors.Is(err, syscall.EPIPE) {
					return nil // the reader went away
				}
				return exitCode(2, err)
			}
			st := t.Stats()
			if st.Rejected > 0 {
				fmt.Fprintf(os.Stderr, "palisade: %d record(s) written, %d line(s) rejected\n", st.Records, st.Rejected)
			}
			if once && st.Records == 0 && st.Rejected > 0 {
				return exitCode(2, fmt.Errorf("every line was rejected (%d)", st.Rejected))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "f", "ndjson", "log format: ndjson (exchange records), nginx or envoy")
	f.BoolVar(&fromStart, "from-start", false, "read the file from its beginning when no offset is saved (default: only new lines)")
	f.BoolVar(&once, "once", false, "read the whole file once and exit (convert, don't follow)")
	f.StringVar(&stateFile, "state", "", "remember the read offset in this file across restarts")
	f.StringVar(&fieldMapFile, "field-map", "", "YAML/JSON object mapping log keys to targets (an Envoy json_format works as is)")
	f.StringArrayVar(&fields, "field", nil, "one KEY=TARGET mapping (repeatable), e.g. --field auth=%REQ(AUTHORIZATION)%")
	f.StringVar(&sourceName, "source", "", `sensor name written to each record's "source"`)
	f.StringVar(&scheme, "scheme", "", "scheme when the log has none: http (default) or https")
	f.IntVar(&maxErrors, "max-errors", 20, "rejected lines printed (all are counted; -1 = print all)")
	root.AddCommand(cmd)
}

// stdoutSink writes records as exchange NDJSON on standard output (flushed
// after every batch, so a reader downstream sees them as they come) and
// prints the first rejected lines on standard error.
type stdoutSink struct {
	w         *bufio.Writer
	maxErrors int
	rejected  int64
}

func (s *stdoutSink) Records(recs []*exchange.Record) error {
	for _, r := range recs {
		if err := exchange.Encode(s.w, r); err != nil {
			return fmt.Errorf("writing records: %w", err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("writing records: %w", err)
	}
	return nil
}

func (s *stdoutSink) Reject(e *exchange.RecordError) {
	s.rejected++
	if s.maxErrors < 0 || s.rejected <= int64(s.maxErrors) {
		fmt.Fprintln(os.Stderr, "palisade: rejected:", e)
	}
}

func (s *stdoutSink) Drop(string, int64) {}
