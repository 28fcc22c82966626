// Command talond is the talon region daemon: one node of the Raft cluster
// that serves a region's queues and bookings over HTTP.
//
// With no flags it runs the embedded demo: a single-node cluster in ./data
// with the Altai krai demo region, the API on http://127.0.0.1:8080.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	systemd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/api"
	"github.com/talon-mfc/talon/cluster"
	"github.com/talon-mfc/talon/display"
	"github.com/talon-mfc/talon/internal/pki"
	"github.com/talon-mfc/talon/metrics"
	"github.com/talon-mfc/talon/notify"
	"github.com/talon-mfc/talon/queue"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "talond:", err)
		os.Exit(1)
	}
}

func run() error {
	configPath := flag.String("config", "", "configuration file (default: the embedded demo)")
	dataDir := flag.String("data", "", "data folder (overrides node.data_dir)")
	httpAddr := flag.String("http", "", "HTTP listen address (overrides node.http_addr)")
	raftAddr := flag.String("raft", "", "Raft listen address (overrides node.raft_addr)")
	nodeID := flag.String("id", "", "node id (overrides node.id)")
	advertise := flag.String("advertise", "", "Raft address other nodes dial (overrides node.advertise)")
	expect := flag.Int("bootstrap-expect", 0, "form a new cluster of this many nodes (overrides node.bootstrap_expect)")
	join := flag.String("join", "", "comma-separated Raft addresses of other nodes (overrides node.join)")
	tlsDir := flag.String("tls-dir", "", "folder with the node's certificate of the region CA for the Raft port: ca.crt, node.crt, node.key (overrides node.tls_dir)")
	plaintext := flag.Bool("raft-plaintext", false, "leave the Raft/RPC port without TLS: a single-node demo on loopback only")
	qrKeyFile := flag.String("qr-key", "", "file with the base64 Ed25519 seed that signs talons (overrides qr_keys; every node of a cluster needs the same)")
	webhookAllow := flag.String("webhook-allow", "", "comma-separated networks (CIDR) of loopback, link-local or private addresses webhooks may reach (adds to webhook_allow)")
	demoSecrets := flag.Bool("demo-secrets", false, "accept the example configuration's published tokens and talon signing key (a demo only)")
	authOpen := flag.Bool("auth-open", false, "serve without tokens on an address other than loopback (a demo in a container; overrides auth.open)")
	devClock := flag.Bool("dev-clock", false, "demos and tests of one node only: POST /api/v1/dev/clock moves the clock forward")
	faultReads := flag.Bool("fault-local-reads", false, "FOR TESTS ONLY: serve linearizable reads from this node's state without the leader (a deliberate bug the fault tests must catch)")
	faultClock := flag.Duration("fault-clock-offset", 0, "FOR TESTS ONLY: run this node's clock this far off (e.g. 1h, -30s), to test that one bad clock cannot move the region's time")
	maxClock := flag.Duration("max-clock-offset", time.Second, "how far a node's clock may be from the cluster's before it is not ready and does not lead")
	recoverAlone := flag.Bool("recover", false, "disaster recovery: make this node the only voter, keeping its data, then start")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	override(&cfg.Node.DataDir, *dataDir)
	override(&cfg.Node.HTTPAddr, *httpAddr)
	override(&cfg.Node.RaftAddr, *raftAddr)
	override(&cfg.Node.ID, *nodeID)
	override(&cfg.Node.Advertise, *advertise)
	override(&cfg.Node.TLSDir, *tlsDir)
	cfg.Node.RaftPlaintext = cfg.Node.RaftPlaintext || *plaintext
	cfg.Auth.Open = cfg.Auth.Open || *authOpen
	if len(cfg.Auth.Tokens) == 0 && !cfg.Auth.Open && !loopback(cfg.Node.HTTPAddr) {
		return fmt.Errorf("no auth.tokens configured and %s is not a loopback address: configure tokens, or pass -auth-open for a demo anyone who reaches it may use", cfg.Node.HTTPAddr)
	}
	if *expect > 0 {
		cfg.Node.BootstrapExpect = *expect
		cfg.Node.Bootstrap = false
	}
	if *join != "" {
		cfg.Node.Join = strings.Split(*join, ",")
	}

	if *qrKeyFile != "" {
		cfg.QRKeys.Active = "local"
		cfg.QRKeys.Keys = []qrKey{{ID: "local", SeedFile: *qrKeyFile}}
	}
	if *webhookAllow != "" {
		cfg.WebhookAllow = append(cfg.WebhookAllow, strings.Split(*webhookAllow, ",")...)
	}
	targets, err := cfg.webhookTargets()
	if err != nil {
		return err
	}
	subs, err := cfg.subscriptions(targets)
	if err != nil {
		return err
	}
	keys, err := cfg.keyring()
	if err != nil {
		return err
	}
	if why := cfg.exampleSecrets(keys); why != "" && !*demoSecrets {
		return fmt.Errorf("%s: these are published in talon's repository; make your own (talonctl keygen, random tokens), or pass -demo-secrets for a demo", why)
	}
	policy := cfg.policy()
	m := metrics.New(log)
	ccfg := cluster.Config{
		ID: cfg.Node.ID, Dir: cfg.Node.DataDir, RaftAddr: cfg.Node.RaftAddr, Advertise: cfg.Node.Advertise,
		Bootstrap: cfg.Node.Bootstrap, BootstrapExpect: cfg.Node.BootstrapExpect, Join: cfg.Node.Join,
		SnapshotThreshold: cfg.Node.SnapshotThreshold, TrailingLogs: cfg.Node.TrailingLogs,
		SnapshotInterval: cfg.Node.SnapshotInterval, Policy: policy, Logger: log, ObserveCommit: m.ObserveCommit,
		DevClock: *devClock, MaxClockOffset: *maxClock, FaultClockOffset: *faultClock, FaultLocalReads: *faultReads,
	}
	if *faultClock != 0 || *faultReads {
		log.Warn("FAULT INJECTION ON: this node is deliberately wrong, for tests only", "clock_offset", *faultClock, "local_reads", *faultReads)
	}
	if *devClock && (cfg.Node.BootstrapExpect > 1 || len(cfg.Node.Join) > 0) {
		return fmt.Errorf("-dev-clock is for a single node: it would let one node move the region's time")
	}
	switch {
	case cfg.Node.TLSDir != "":
		if ccfg.ServerTLS, ccfg.ClientTLS, err = pki.Load(cfg.Node.TLSDir); err != nil {
			return fmt.Errorf("the Raft port's TLS (%s): %w", cfg.Node.TLSDir, err)
		}
	case !cfg.Node.RaftPlaintext:
		return fmt.Errorf("the Raft/RPC port needs TLS: make certificates with talonctl ca and talonctl cert and pass -tls-dir (or -raft-plaintext for a single-node demo on loopback)")
	case cfg.Node.BootstrapExpect > 1 || len(cfg.Node.Join) > 0:
		return fmt.Errorf("-raft-plaintext is for a single node only: a cluster's port must be mutual TLS (-tls-dir)")
	}
	if *recoverAlone {
		if err := cluster.Recover(ccfg); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		log.Warn("recovered: this node is now the only voter; join new nodes to it", "id", ccfg.ID)
	}
	store, err := cluster.Open(ccfg)
	if err != nil {
		return err
	}
	m.Attach(store, cfg.Node.DataDir)
	screens := display.NewHub(store, log)
	screens.AllowOrigins(cfg.AllowedOrigins)
	m.Screens(screens.Connections)
	srv := api.New(api.Config{Store: store, Keys: keys, Policy: policy, Tokens: cfg.tokens(), Limits: cfg.limits(), Logger: log, Metrics: m.Handler(),
		DevClock: *devClock, Screens: screens, Webhooks: targets})
	httpSrv := &fasthttp.Server{}
	srv.Configure(httpSrv)
	httpSrv.Handler = m.WrapHTTP(httpSrv.Handler)
	ln, err := net.Listen("tcp", cfg.Node.HTTPAddr)
	if err != nil {
		store.Close()
		return err
	}
	httpErr := make(chan error, 1)
	go func() { httpErr <- httpSrv.Serve(ln) }()
	ctx, stopBackground := context.WithCancel(context.Background())
	var background sync.WaitGroup
	background.Add(2)
	go func() { defer background.Done(); seed(ctx, store, cfg.Region, subs, log) }()
	deliver := notify.New(notify.Config{Store: store, Logger: log, Observe: m.ObserveNotify, Targets: targets})
	go func() { defer background.Done(); deliver.Run(ctx) }()
	systemd.SdNotify(false, systemd.SdNotifyReady) // systemd Type=notify: serving HTTP; /readyz says when it can serve

	fmt.Printf("talond %s: region %q, data in %s\n", cfg.Node.ID, cfg.Region.Name, cfg.Node.DataDir)
	fmt.Printf("  portal  http://%s/   hall screen /display/{office}, kiosk /kiosk/{office}, operator /operator/{office}/{window}\n", cfg.Node.HTTPAddr)
	fmt.Printf("  staff   hall administrator /desk/{office}, supervisor /supervisor/{office}, window plan /staffing/{office}\n")
	fmt.Printf("  API     http://%s/api/v1/offices  (OpenAPI: /api/v1/openapi.yaml)\n", cfg.Node.HTTPAddr)
	fmt.Printf("  health  http://%s/healthz  http://%s/readyz\n", cfg.Node.HTTPAddr, cfg.Node.HTTPAddr)
	fmt.Printf("  raft    %s\n", cfg.Node.RaftAddr)
	if *devClock {
		fmt.Println("  WARNING: dev clock on: POST /api/v1/dev/clock moves this node's time forward. Never in a real region.")
	}
	if ccfg.ServerTLS == nil {
		fmt.Printf("  WARNING: the Raft port %s is plain TCP without authentication (a single-node demo). Anyone who reaches it can write.\n", cfg.Node.RaftAddr)
	}
	if *faultClock != 0 {
		fmt.Printf("  WARNING: fault injection: this node's clock runs %v off. For tests only.\n", *faultClock)
	}
	if !srv.AuthEnabled() {
		fmt.Printf("  WARNING: authentication is OFF (no auth.tokens): anyone who reaches %s can book, cancel\n", cfg.Node.HTTPAddr)
		fmt.Println("           and read bookings (applicants' names and phones), issue tickets, check in, operate windows")
		fmt.Println("           and read queues, statistics and visit records. Administration (backup with personal data,")
		fmt.Println("           restore, region, closures, webhooks, membership, pprof) answers only on loopback.")
		fmt.Println("           Configure auth.tokens for real use.")
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case err = <-httpErr:
		err = fmt.Errorf("http: %w", err)
	case <-store.Halted():
		err = fmt.Errorf("node halted: %s", store.Status().Halted)
	}
	systemd.SdNotify(false, systemd.SdNotifyStopping)
	stopBackground()
	background.Wait()
	handOver(store, log)
	screens.Close()
	httpSrv.ShutdownWithContext(context.Background())
	m.Close()
	return joinErr(err, store.Close())
}

// handOver, on a leader that is being stopped, hands leadership to another
// voter first, so writes pause for a moment instead of an election timeout.
func handOver(store *cluster.Store, log *slog.Logger) {
	if store.Status().State != "Leader" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if nodes, err := store.Nodes(ctx); err != nil || len(nodes) < 2 {
		return
	}
	if err := store.TransferLeadership(ctx, ""); err != nil {
		log.Warn("handing over leadership", "err", err)
	}
}

func joinErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// seed loads the configured region and webhook subscriptions into the
// replicated state once this node leads, if the state lacks them (a new
// cluster). Later changes go through the API (talonctl region load,
// talonctl subscribe), so a node restarted with an older file never undoes
// them.
func seed(ctx context.Context, store *cluster.Store, r *queue.Region, subs []queue.Subscription, log *slog.Logger) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var missing []queue.Command
		store.Read(func(rd queue.Reader) {
			if rd.Region() == nil {
				missing = append(missing, &queue.SetRegion{Region: r})
			}
			for _, sub := range subs {
				if _, ok := rd.Subscription(sub.ID); !ok {
					missing = append(missing, &queue.Subscribe{Sub: sub})
				}
			}
		})
		if len(missing) == 0 {
			return
		}
		if !store.Leads() {
			continue
		}
		for _, c := range missing {
			res, _, err := store.Apply(ctx, c)
			sub, isSub := c.(*queue.Subscribe)
			switch {
			case err != nil:
				log.Warn("seeding the configuration", "err", err)
			case res.Err != nil && !isSub:
				log.Error("the configured region was rejected", "err", res.Err)
				return
			case res.Err != nil:
				log.Error("a configured subscription was rejected", "id", sub.Sub.ID, "err", res.Err)
				subs = slices.DeleteFunc(subs, func(s queue.Subscription) bool { return s.ID == sub.Sub.ID })
			case !isSub:
				log.Info("region loaded", "name", r.Name, "offices", len(r.Offices))
			default:
				log.Info("subscription created", "id", sub.Sub.ID)
			}
		}
	}
}
