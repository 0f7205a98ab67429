// Command ecssim runs the ECS API emulator (package ecs/ecssim) standalone, so that renewbot
// and other tools can be tried without an Alibaba Cloud account.
//
//	ecssim -generate 500 -regions cn-hangzhou,cn-shanghai -seed 7
//	ecssim -fleet fleet.json -listen 127.0.0.1:0 -tls-cert-out ecssim.pem
//	ecssim -generate 10000 -throttle 2 -throttle-burst 2
//
// It prints exactly one line, "ecssim listening on http://HOST:PORT", once it is ready (and
// the -tls-cert-out file written), and stops gracefully on SIGINT or SIGTERM. The same port
// answers TLS with a self-signed certificate for 127.0.0.1 and localhost.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ecssim:", err)
		}
		os.Exit(2)
	}
}

// run parses args, starts the emulator and serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ecssim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:18080", "address to listen on (port 0 picks a free port)")
	fleetFile := fs.String("fleet", "", "fleet JSON file (see the README); exclusive with -generate")
	generate := fs.Int("generate", 0, "generate a fleet of N instances (exclusive with -fleet)")
	regionList := fs.String("regions", "", "comma-separated region IDs (default with -generate: "+strings.Join(ecssim.DefaultRegions(), ",")+")")
	seed := fs.Int64("seed", 1, "seed for -generate and fault injection")
	akID := fs.String("access-key-id", "testid", "AccessKeyId clients must sign with")
	akSecret := fs.String("access-key-secret", "testsecret", "AccessKeySecret clients must sign with")
	renewDelay := fs.Duration("renew-delay", 10*time.Second, "delay before a renewed ExpiredTime becomes visible (0: immediately)")
	var balance optFloat
	fs.Var(&balance, "balance", "account balance (overrides the fleet's)")
	autoRenew := fs.Bool("auto-renew", false, "charge AutoRenewal instances 9 days before expiry, as Alibaba does")
	verbose := fs.Bool("v", false, "log every renewal and error to stderr")
	throttle := fs.Float64("throttle", 0, "refuse calls over N per second per account, region and API with 400 Throttling, as Alibaba does (0: never)")
	throttleBurst := fs.Int("throttle-burst", 0, "calls at once before -throttle refuses (0: N rounded up)")
	certOut := fs.String("tls-cert-out", "", "write the self-signed certificate of the TLS side of -listen (127.0.0.1, localhost) to FILE as PEM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (all options are flags)", fs.Args())
	}
	if *fleetFile != "" && *generate > 0 {
		return errors.New("-fleet and -generate are exclusive")
	}
	if *generate < 0 {
		return fmt.Errorf("-generate %d: want a positive number of instances", *generate)
	}
	if *throttle < 0 || *throttleBurst < 0 {
		return fmt.Errorf("-throttle %v -throttle-burst %d: must not be negative", *throttle, *throttleBurst)
	}
	if *akID == "" || *akSecret == "" {
		return errors.New("-access-key-id and -access-key-secret must not be empty")
	}
	var regions []string
	for _, r := range strings.Split(*regionList, ",") {
		if r = strings.TrimSpace(r); r != "" {
			regions = append(regions, r)
		}
	}
	for _, r := range regions {
		if !ecs.ValidRegionID(r) {
			return fmt.Errorf("-regions: %q is not a region ID like cn-hangzhou", r)
		}
	}
	var fleet ecssim.Fleet
	switch {
	case *fleetFile != "":
		f, err := ecssim.LoadFleet(*fleetFile)
		if err != nil {
			return err
		}
		fleet = f
	case *generate > 0:
		fleet = ecssim.Generate(*generate, regions, *seed, time.Now())
	}
	if balance.set {
		if balance.v < 0 {
			return fmt.Errorf("-balance %v: must not be negative", balance.v)
		}
		fleet.Balance = balance.v
	}
	if len(regions) == 0 && len(fleet.Instances) == 0 {
		regions = ecssim.DefaultRegions()
	}
	if *renewDelay == 0 {
		*renewDelay = -1 // Options.RenewDelay: 0 is the default (10s), negative is immediately
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	srv := ecssim.NewUnstartedServer(ecssim.Options{
		AccessKeyID:     *akID,
		AccessKeySecret: *akSecret,
		RenewDelay:      *renewDelay,
		Fleet:           fleet,
		Regions:         regions,
		Seed:            *seed,
		AutoRenew:       *autoRenew,
		Throttle:        ecssim.Throttle{PerSecond: *throttle, Burst: *throttleBurst},
		Log:             slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	})
	if err := srv.Listen(*listen); err != nil {
		return fmt.Errorf("-listen %s: %w", *listen, err)
	}
	if *certOut != "" {
		if err := os.WriteFile(*certOut, srv.CertificatePEM(), 0o644); err != nil {
			srv.Close()
			return fmt.Errorf("-tls-cert-out: %w", err)
		}
	}
	fmt.Fprintf(stdout, "ecssim listening on %s\n", srv.URL)
	<-ctx.Done()
	srv.Close()
	return nil
}

// optFloat is a float flag that remembers whether it was given.
type optFloat struct {
	v   float64
	set bool
}

func (f *optFloat) String() string {
	if f == nil || !f.set {
		return ""
	}
	return fmt.Sprint(f.v)
}

func (f *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	f.v, f.set = v, true
	return nil
}
