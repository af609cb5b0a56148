package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/source"
)

type analyzeFlags struct {
	specs      []string
	intel      []string
	reportOut  string
	summary    bool
	noProgress bool
	alerts     string
	common     pipelineFlags
}

func init() {
	var f analyzeFlags
	cmd := &cobra.Command{
		Use:   "analyze [flags] FILE...",
		Short: "Analyze captured API traffic offline and write the report",
		Long: `Analyze reads exchange records (NDJSON, plain or gzip, or HAR 1.2; "-" for
stdin), builds the API inventory, classifies sensitive data, runs the
detectors and posture rules, and writes the analysis report (report-v1).

When an input is a stream (standard input or a named pipe that is not a
regular file, e.g. "palisade tail ... | palisade analyze -"), records are
analyzed as they arrive and each new alert is printed as it is raised (one
line of text; --alerts ndjson prints JSON lines); the end of the input, or
Ctrl-C (SIGINT/SIGTERM), ends the stream and the report of what was read is
written as usual. A second Ctrl-C exits at once.

Exit status: 0 on success; 2 when the command line or an input is unusable
(unreadable file, spec or feed that does not parse, every record rejected);
3 when the report was written but an input ended early (for example a
truncated gzip file): the records before the damage were analyzed.`,
		Example: `  palisade analyze traffic.ndjson.gz
  palisade analyze --spec api.yaml --intel tor=tor-exits.txt --report report.json capture.har
  zcat *.gz | palisade analyze --report - - | jq '.alerts[]'
  palisade tail -f nginx /var/log/nginx/api.json.log | palisade analyze --report report.json -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runAnalyze(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.specs, "spec", nil, "declared OpenAPI spec (JSON or YAML; repeatable)")
	fl.StringArrayVar(&f.intel, "intel", nil, "threat-intel feed KIND[,min=N][,name=NAME]=PATH|URL; KIND is tor, blocklist or anonymizer (MaxMind MMDB) (repeatable; see docs/threat-intel.md)")
	fl.StringVar(&f.reportOut, "report", "", "write the JSON report to this file (- = stdout); default: human summary on stdout")
	fl.BoolVar(&f.summary, "summary", false, "also print the human summary on stderr when --report is given")
	fl.BoolVar(&f.noProgress, "no-progress", false, "never show the progress bar")
	fl.StringVar(&f.alerts, "alerts", "auto", "print alerts as they are raised: auto (text when an input is a stream), text, ndjson or none; on stdout, or on stderr when --report - writes the report there")
	f.common.register(cmd)
	root.AddCommand(cmd)
}

func runAnalyze(cmd *cobra.Command, f analyzeFlags, files []string) error {
	cfg, err := f.common.config()
	if err != nil {
		return exitCode(2, err)
	}
	// The file's specs and feeds, then the flags' (as serve does).
	cfg.Specs = append(cfg.Specs, f.specs...)
	cfg.Intel = append(cfg.Intel, f.intel...)
	eng, err := engine.New(cfg)
	if err != nil {
		return exitCode(2, err)
	}
	for _, w := range eng.Warnings {
		fmt.Fprintln(os.Stderr, "palisade: warning:", w)
	}
	// Refuse to read stdin twice, and open every file before analyzing any:
	// a typo in the last name should not cost a long run.
	stdin := 0
	var total int64
	for _, name := range files {
		if name == "-" {
			stdin++
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return exitCode(2, err)
		}
		if st.IsDir() {
			return exitCode(2, fmt.Errorf("%s: is a directory", name))
		}
		total += st.Size()
	}
	if stdin > 1 {
		return exitCode(2, errors.New(`"-" (stdin) given more than once`))
	}
	srcs := make([]*source.Reader, len(files))
	streaming := false
	var done int64
	var prog *progress
	for i, name := range files {
		base := &done
		src, err := source.Open(name, source.ReaderOptions{Progress: func(b, n int64) { prog.update(*base+b, n) }})
		if err != nil {
			return exitCode(2, err)
		}
		srcs[i] = src
		streaming = streaming || src.Streaming()
	}
	alertOut, err := alertPrinter(f, streaming)
	if err != nil {
		return exitCode(2, err)
	}
	if alertOut != nil {
		eng.OnNewAlert(alertOut)
	}
	ctx, stopSignals := context.Background(), func() {}
	if streaming {
		// Ctrl-C ends the stream and the report is written; a second one
		// exits (the default handling is back once the inputs are read).
		ctx, stopSignals = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stopSignals()
		fmt.Fprintln(os.Stderr, "palisade: reading a stream: alerts are printed as they are raised; end of input or Ctrl-C writes the report")
	}
	prog = newProgress(!f.noProgress && !streaming, total, stdin > 0)
	var incomplete []error
	for i, src := range srcs {
		var err error
		if src.Streaming() {
			err = engine.NewStream(eng, time.Second).Run(ctx, src)
			if ctx.Err() != nil {
				fmt.Fprintf(os.Stderr, "palisade: %s: stopped; writing the report of what was read\n", src.Name())
				break
			}
		} else {
			err = eng.Read(ctx, src)
		}
		if st, e := os.Stat(files[i]); e == nil && files[i] != "-" {
			done += st.Size()
		}
		if err != nil {
			incomplete = append(incomplete, err)
			prog.log("palisade: " + err.Error())
		}
	}
	stopSignals()
	eng.Flush()
	prog.finish()
	rep := eng.Report(time.Now())
	if rep.Input.Records == 0 && rep.Input.Rejected > 0 {
		_ = writeOutputs(cmd, f, rep)
		return exitCode(2, fmt.Errorf("every record was rejected (%d); first: %s", rep.Input.Rejected, firstError(rep)))
	}
	if rep.Input.Records == 0 && len(incomplete) > 0 {
		return exitCode(2, incomplete[0])
	}
	if err := writeOutputs(cmd, f, rep); err != nil {
		return err
	}
	if len(incomplete) > 0 {
		return exitCode(3, fmt.Errorf("report written, but %d input(s) ended early: %v", len(incomplete), incomplete[0]))
	}
	return nil
}

func firstError(r *model.Report) string {
	if len(r.Input.Errors) == 0 {
		return "?"
	}
	e := r.Input.Errors[0]
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Entry > 0 {
		s += fmt.Sprintf(": entry %d", e.Entry)
	}
	if e.Field != "" {
		s += " field " + e.Field
	}
	return s + ": " + e.Message
}

func writeOutputs(cmd *cobra.Command, f analyzeFlags, rep *model.Report) error {
	switch f.reportOut {
	case "":
		return report.Summary(cmd.OutOrStdout(), rep)
	case "-":
		w := bufio.NewWriter(cmd.OutOrStdout())
		if err := report.WriteJSON(w, rep); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	default:
		if err := writeFileAtomic(f.reportOut, func(w io.Writer) error { return report.WriteJSON(w, rep) }); err != nil {
			return err
		}
	}
	if f.summary {
		return report.Summary(os.Stderr, rep)
	}
	return nil
}

// writeFileAtomic writes a regular file (new or existing) via a temporary
// file renamed into place; a symbolic link is followed to its target. Any
// other existing file — a device such as /dev/null, a pipe, a socket — is
// written directly: renaming over it would replace it.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return writeDirect(path, write)
		}
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
	}
	tmp, err := os.CreateTemp(dirOf(path), ".palisade-*")
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeDirect(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/"
			}
			return p[:i]
		}
	}
	return "."
}

var _ = exchange.MaxLine

// alertPrinter returns what prints an alert as it is raised (nil: alerts
// are only in the report): text or JSON lines, on stdout unless the JSON
// report goes there.
func alertPrinter(f analyzeFlags, streaming bool) (func(model.Alert), error) {
	mode := f.alerts
	switch mode {
	case "auto":
		if !streaming {
			return nil, nil
		}
		mode = "text"
	case "none":
		return nil, nil
	case "text", "ndjson":
	default:
		return nil, fmt.Errorf("--alerts %q: want auto, text, ndjson or none", f.alerts)
	}
	var w io.Writer = os.Stdout
	if f.reportOut == "-" {
		w = os.Stderr
	}
	if mode == "ndjson" {
		return func(a model.Alert) { report.AlertJSON(w, a) }, nil
	}
	return func(a model.Alert) { report.AlertLine(w, a) }, nil
}
