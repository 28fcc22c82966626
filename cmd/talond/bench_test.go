package main

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/api"
	"github.com/talon-mfc/talon/cluster"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// BenchmarkIssueTicketHTTP measures whole-path committed writes: an HTTP
// request, a Raft log entry fsynced by raft-boltdb, the FSM, the answer;
// 256 concurrent clients on loopback. maxbatch=1 puts every command in its
// own log entry (raft still groups entries per disk write); the default packs
// the commands that queue up while entries commit.
func BenchmarkIssueTicketHTTP(b *testing.B) {
	for _, maxBatch := range []int{1, 512} {
		b.Run(fmt.Sprintf("maxbatch=%d", maxBatch), func(b *testing.B) {
			store, err := cluster.Open(cluster.Config{ID: "n1", Dir: b.TempDir(), RaftAddr: "127.0.0.1:0", Bootstrap: true,
				Policy: scheduler.Default{}, MaxBatch: maxBatch})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			keys, _ := queue.NewKeyring("k1", bytes.Repeat([]byte{7}, 32), nil)
			srv := api.New(api.Config{Store: store, Keys: keys, Policy: scheduler.Default{}})
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			hs := &fasthttp.Server{Handler: srv.Handler()}
			go hs.Serve(ln)
			defer hs.Shutdown()
			for !store.Leads() {
				time.Sleep(10 * time.Millisecond)
			}
			client := &fasthttp.Client{MaxConnsPerHost: 512}
			base := "http://" + ln.Addr().String()
			post := func(path string, body string) int {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI(base + path)
				req.Header.SetMethod("POST")
				req.SetBodyString(body)
				if err := client.Do(req, resp); err != nil {
					return 0
				}
				return resp.StatusCode()
			}
			region := `{"name":"b","services":[{"id":"p","letter":"П","bookable":true}],"offices":[{"id":"a","timezone":"Asia/Barnaul","hours":` +
				`{"mon":"00:00-24:00","tue":"00:00-24:00","wed":"00:00-24:00","thu":"00:00-24:00","fri":"00:00-24:00","sat":"00:00-24:00","sun":"00:00-24:00"},` +
				`"services":["p"],"windows":[{"number":1,"services":["p"]}]}]}`
			req := fasthttp.AcquireRequest()
			req.SetRequestURI(base + "/api/v1/region")
			req.Header.SetMethod("PUT")
			req.SetBodyString(region)
			if err := client.Do(req, fasthttp.AcquireResponse()); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(128) // 2 cores × 128 = 256 clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := post("/api/v1/offices/a/tickets", `{"service":"p"}`); code != 201 {
						b.Errorf("status %d", code)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
		})
	}
}
