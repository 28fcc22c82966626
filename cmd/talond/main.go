// Command talond is the talon region daemon: one node of the Raft cluster
// that serves a region's queues and bookings over HTTP.
//
// With no flags it runs the embedded demo: a single-node cluster in ./data
// with the Altai krai demo region, the API on http://127.0.0.1:8080.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // every node resolves office time zones from the same data

	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/api"
	"github.com/talon-mfc/talon/cluster"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
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

	keys, err := cfg.keyring()
	if err != nil {
		return err
	}
	policy := scheduler.Default{}
	store, err := cluster.Open(cluster.Config{
		ID: cfg.Node.ID, Dir: cfg.Node.DataDir, RaftAddr: cfg.Node.RaftAddr, Bootstrap: cfg.Node.Bootstrap,
		Policy: policy, Logger: log,
	})
	if err != nil {
		return err
	}
	srv := api.New(api.Config{Store: store, Keys: keys, Policy: policy, Tokens: cfg.tokens(), Logger: log})
	httpSrv := &fasthttp.Server{
		Handler: srv.Handler(), Name: "talond", ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxRequestBodySize: 4 << 20,
	}
	httpErr := make(chan error, 1)
	go func() { httpErr <- httpSrv.ListenAndServe(cfg.Node.HTTPAddr) }()
	go applyRegion(store, cfg.Region, log)

	fmt.Printf("talond %s: region %q, data in %s\n", cfg.Node.ID, cfg.Region.Name, cfg.Node.DataDir)
	fmt.Printf("  API     http://%s/api/v1/offices  (OpenAPI: /api/v1/openapi.yaml)\n", cfg.Node.HTTPAddr)
	fmt.Printf("  health  http://%s/healthz  http://%s/readyz\n", cfg.Node.HTTPAddr, cfg.Node.HTTPAddr)
	fmt.Printf("  raft    %s\n", cfg.Node.RaftAddr)
	if !srv.AuthEnabled() {
		fmt.Println("  WARNING: authentication is OFF (no tokens configured): anyone who can reach this port")
		fmt.Println("           can book, issue tickets and operate windows. Configure auth.tokens for real use.")
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
	httpSrv.ShutdownWithContext(context.Background())
	return joinErr(err, store.Close())
}

func joinErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// applyRegion loads the configured region into the replicated state once
// this node leads, if the state holds a different one (first start, or the
// file was edited). In a cluster, load regions with the admin API instead.
func applyRegion(store *cluster.Store, r *queue.Region, log *slog.Logger) {
	want, _ := json.Marshal(r)
	for {
		time.Sleep(100 * time.Millisecond)
		if !store.Ready() {
			continue
		}
		var have []byte
		store.Read(func(st *queue.State) { have, _ = json.Marshal(st.Region) })
		if string(have) == string(want) {
			return
		}
		res, err := store.Apply(context.Background(), queue.Command{Kind: queue.KindSetRegion, Region: r})
		switch {
		case err != nil:
			log.Warn("loading the region", "err", err)
		case res.Err != nil:
			log.Error("the configured region was rejected", "err", res.Err)
			return
		default:
			log.Info("region loaded", "name", r.Name, "offices", len(r.Offices))
			return
		}
	}
}
