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

// command is one of dokja's commands: a name, a one-line summary, its
// runner, and the subcommands it has ("run|stages", shown by "dokja help").
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
	subs          string
}

var commands []command

// lateCommands are registered by the init functions of other files, which
// may run before main.go's; allCommands joins the two lists.
var lateCommands []command

func allCommands() []command { return append(append([]command(nil), commands...), lateCommands...) }

func init() {
	commands = []command{
		{"tokenizer", "train, inspect and apply byte-level BPE tokenizers", runTokenizer, "train|encode|stats|info|convert"},
		{"demo", "the whole stack on the demo corpus: curate, tokenizer, pretrain, evaluate, serve", runDemo, ""},
		{"init", "write a Llama/Qwen2 checkpoint with seeded random weights", runInit, ""},
		{"train", "pretrain or continue pretraining a model on token shards; plot runs", runTrain, "plot"},
		{"generate", "continue a prompt with a model, streaming the text", runGenerate, ""},
		{"chat", "chat with a model in the terminal", runChat, ""},
		{"serve", "serve models over the OpenAI HTTP API", runServe, ""},
		{"tokenize", "encode a corpus into token shards for training", runTokenize, ""},
		{"version", "print the version", runVersion, ""},
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
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
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
				if err != errUsage { // errUsage alone: flag has said what is wrong
					fmt.Fprintf(stderr, "dokja %s: %v\n", c.name, err)
				}
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
		if c.subs != "" {
			fmt.Fprintf(w, "  %-10s   %s %s\n", "", c.name, strings.ReplaceAll(c.subs, "|", " | "))
		}
	}
	fmt.Fprint(w, `
Run "dokja help <command>" or "dokja <command> -h" for a command's flags
(help goes to stdout, so "dokja help eval | less" pages it). Exit codes:
0 success or help, 1 an error while running, 2 a usage mistake (an
unknown command, flag or format, a required flag missing), 130
interrupted.
`)
}

func runVersion(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", "Print the module version and Go toolchain.", stdout, stderr)
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

// flags is a command's flag set, with its help: printed to stdout when
// asked for (-h, --help, "dokja help CMD"), to stderr with a usage error.
type flags struct {
	*flag.FlagSet
	stdout, stderr        io.Writer
	name, argsUsage, help string
}

// newFlags returns a command's flag set.
func newFlags(name, argsUsage, help string, stdout, stderr io.Writer) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), stdout: stdout, stderr: stderr, name: name, argsUsage: argsUsage, help: help}
	f.SetOutput(stderr) // flag's own complaints (an unknown flag, a bad value)
	f.Usage = func() { f.printUsage(f.stderr) }
	return f
}

func (f *flags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: dokja %s [flags] %s\n\n%s\n", f.name, f.argsUsage, strings.TrimSpace(f.help))
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nFlags:")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(f.stderr)
	}
}

// usageError prints the usage to stderr and returns an error that makes
// dokja print msg and exit 2.
func (f *flags) usageError(format string, args ...any) error {
	f.printUsage(f.stderr)
	return &usageError{fmt.Sprintf(format, args...)}
}

// usageError is a mistake in how a command was called: dokja prints it
// after the usage and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// helpAsked reports whether args ask for help (-h, -help, --help) before
// any "--".
func helpAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help", "--h":
			return true
		}
	}
	return false
}

// parse parses flags: help goes to stdout (flag.ErrHelp, exit 0); a bad
// flag is reported with the usage on stderr (errUsage, exit 2).
func parse(fs *flags, args []string) error {
	if helpAsked(args) {
		fs.printUsage(fs.stdout)
		return flag.ErrHelp
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	return nil
}

// subcommand is one of a command's subcommands.
type subcommand struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// dispatch runs the subcommand args[0] names. Help (-h, --help, help)
// goes to stdout; a missing or unknown subcommand is a usage error.
func dispatch(ctx context.Context, name, footer string, subs []subcommand, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var names []string
	for _, c := range subs {
		names = append(names, c.name)
	}
	help := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: dokja %s <%s> [flags]\n\n", name, strings.Join(names, "|"))
		for _, c := range subs {
			fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
		}
		if footer != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(footer))
		}
		fmt.Fprintf(w, "\nRun \"dokja %s <command> -h\" for a command's flags.\n", name)
	}
	if len(args) == 0 {
		help(stderr)
		return &usageError{"name a command: " + strings.Join(names, ", ")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		help(stdout)
		return nil
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	help(stderr)
	return &usageError{fmt.Sprintf("unknown command %q (want %s)", args[0], strings.Join(names, ", "))}
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
