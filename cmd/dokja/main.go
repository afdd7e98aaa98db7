// Command dokja is the Korean-first foundation model stack: tokenizer
// training and use today; data curation, training, inference, serving and
// evaluation as they land. Run "dokja help" for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: a name, a one-line summary and its runner.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands []command

// lateCommands are registered by the init functions of other files, which
// may run before main.go's; allCommands joins the two lists.
var lateCommands []command

func allCommands() []command { return append(append([]command(nil), commands...), lateCommands...) }

func init() {
	commands = []command{
		{"tokenizer", "train, inspect and apply byte-level BPE tokenizers", runTokenizer},
		{"demo", "run the main demo: train a tokenizer on the demo corpus and report", runDemo},
		{"init", "write a Llama/Qwen2 checkpoint with seeded random weights", runInit},
		{"train", "pretrain or continue pretraining a model on token shards", runTrain},
		{"generate", "continue a prompt with a model, streaming the text", runGenerate},
		{"chat", "chat with a model in the terminal", runChat},
		{"serve", "serve models over the OpenAI HTTP API", runServe},
		{"tokenize", "encode a corpus into token shards for training", runTokenize},
		{"version", "print the version", runVersion},
	}
}

// errUsage marks errors already explained by a usage message.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			return run(ctx, append(slices.Clone(args[1:]), "-h"), stdin, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range allCommands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdin, stdout, stderr)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			case errors.Is(err, context.Canceled):
				fmt.Fprintln(stderr, "dokja: interrupted")
				return 130
			default:
				fmt.Fprintf(stderr, "dokja %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "dokja: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Dokja (독자): a Korean-first foundation model stack in one binary.

Usage: dokja <command> [arguments]

Commands:
`)
	sorted := allCommands()
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "dokja help <command>" or "dokja <command> -h" for a command's flags.
`)
}

func runVersion(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", "Print the module version and Go toolchain.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	v, goV := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		v, goV = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(stdout, "dokja %s %s\n", v, goV)
	return nil
}

// newFlags returns a flag set whose -h output shows usage and help text.
func newFlags(name, argsUsage, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: dokja %s [flags] %s\n\n%s\n", name, argsUsage, strings.TrimSpace(help))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags, turning a bad flag into errUsage (already printed).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// listFlag collects a flag given several times, or once with commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// pathsFlag collects a flag given several times; commas are kept, since
// they may appear in file names.
type pathsFlag []string

func (l *pathsFlag) String() string     { return strings.Join(*l, " ") }
func (l *pathsFlag) Set(v string) error { *l = append(*l, v); return nil }
