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
		sf                                                  shipFlags
	)
	cmd := &cobra.Command{
		Use:   "tail [flags] FILE",
		Short: "Follow an access log (exchange NDJSON, NGINX or Envoy JSON): write exchange records to stdout, or ship them to a server",
		Long: `Follows FILE like "tail -F" (rotation and truncation handled). Rejected lines
are reported on standard error with their line number and field. See
docs/sources.md for the formats and field maps.

Without --to, writes one exchange-v1 record per line to standard output as the
lines arrive, ready for "palisade analyze -".

With --to URL, ships the records to a Palisade server's ingestion API: batches
of at most --batch-records records or --batch-bytes of log lines, sent at
least every --batch-wait; failed requests are retried with exponential
backoff, after the server's Retry-After when it is busy (429) or restarting
(503). With --state the read offset is saved only once the server made the
records durable, so a restart of the shipper or of the server loses nothing
(at-least-once: the batch in flight at an interruption may arrive twice).

Exit status: 0 when stopped (SIGINT/SIGTERM) or, with --once, at the end of the
file; 2 for unusable flags or files, a state file of another log, or a server
answer that retrying cannot fix (wrong token or URL).`,
		Example: `  palisade tail -f nginx /var/log/nginx/api.json.log | palisade analyze -
  palisade tail -f nginx --state /var/lib/palisade/nginx.state \
      --to https://palisade.example:8443 --token-file /etc/palisade/ingest.token /var/log/nginx/api.json.log`,
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
			to := source.TailOptions{
				Path: args[0], Format: source.Format(format), FromStart: fromStart || once, StateFile: stateFile, Once: once,
				LineOptions: source.LineOptions{FieldMap: fm, Source: sourceName, DefaultScheme: scheme},
			}
			if sf.to != "" {
				to.BatchSize, to.BatchBytes, to.BatchWait = sf.records, sf.bytes, sf.wait
			}
			t, err := source.NewTail(to)
			if err != nil {
				return exitCode(2, err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var sink source.Sink = &stdoutSink{w: bufio.NewWriterSize(os.Stdout, 256<<10), maxErrors: maxErrors}
			var shipper *shipstats
			if sf.to != "" {
				sh, err := sf.shipper(ctx)
				if err != nil {
					return exitCode(2, err)
				}
				sink, shipper = sh, &shipstats{sh}
				if stateFile == "" && !once {
					fmt.Fprintln(os.Stderr, "palisade: warning: --to without --state: a restart starts at the end of the file again, lines written meanwhile are not shipped")
				}
			} else if sf.tokenFile != "" || sf.caFile != "" {
				return exitCode(2, errors.New("--token-file and --ca-file go with --to"))
			}
			if err := t.Run(ctx, sink); err != nil {
				if errors.Is(err, syscall.EPIPE) {
					return nil // the reader went away
				}
				if shipper != nil {
					shipper.print()
				}
				return exitCode(2, err)
			}
			if shipper != nil {
				shipper.print()
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
	sf.register(cmd)
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
