// Command cueapi runs the cueapi scheduling service.
//
//	cueapi serve        run the API, scheduler and dispatcher
//	cueapi migrate      apply database migrations and exit
//	cueapi worker       run handler commands for worker-transport cues
//	cueapi bench        measure delivery throughput and lateness
//	cueapi healthcheck  probe a running server's /health (container health checks)
//	cueapi version      print the version
//
// Every command answers -h/--help without starting or changing anything.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cueapi:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if h, ok := commandHelp[cmd]; ok && len(args) > 1 && wantsHelp(args[1:]) {
		fmt.Fprint(stdout, h)
		return nil
	}
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "cueapi", version)
		return nil
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage())
		return nil
	case "bench":
		return helpIsSuccess(runBench(ctx, args[1:], stdout))
	case "worker":
		return runWorker(ctx, args[1:], stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], stdout, stderr)
	case "serve", "migrate":
		if len(args) > 1 {
			fmt.Fprint(stderr, commandHelp[cmd])
			return fmt.Errorf("%s takes no arguments (configuration comes from the environment; see cueapi --help)", cmd)
		}
	default:
		fmt.Fprint(stderr, usage())
		return fmt.Errorf("unknown command %q", cmd)
	}
	cfg, err := loadConfig(nil)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cmd == "migrate" {
		// Opening a store applies pending migrations.
		st, err := openStore(ctx, cfg, log)
		if err != nil {
			return err
		}
		log.Info("migrations applied")
		return st.Close()
	}
	return serve(ctx, cfg, log)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv}))
}

func serve(ctx context.Context, cfg *config, log *slog.Logger) error {
	unlock, err := lockDataDir(cfg, log)
	if err != nil {
		return err
	}
	defer unlock()
	a, err := newApp(ctx, cfg, log, overrides{})
	if err != nil {
		return err
	}
	defer a.close()
	srv := &http.Server{
		Addr:              net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if a.stopStreams != nil {
		srv.RegisterOnShutdown(a.stopStreams) // long-lived dashboard streams
	}
	srv.RegisterOnShutdown(a.Events.Release) // held event long-polls answer now
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	log.Info("cueapi listening", "addr", ln.Addr().String(), "env", cfg.Env, "version", version)
	engineCtx, stopEngine := context.WithCancel(context.Background())
	waitMetrics, err := a.ops.serveMetrics(engineCtx, cfg, log)
	if err != nil {
		stopEngine()
		return err
	}
	defer waitMetrics()
	waitEngine := a.Run(engineCtx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// The engine stops claiming now; deliveries in flight get the shutdown
	// grace (then are cancelled and their leases released) while HTTP
	// requests drain for the same grace.
	stopEngine()
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		serveErr = errors.Join(serveErr, err)
	}
	waitEngine()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}
