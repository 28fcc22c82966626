package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"go.etcd.io/bbolt"
)

// The ceilings are measured in the same run as talon, on the same machine
// and by the same clients, so a result is a ratio that holds on a noisy
// machine.

// serve runs handler on a loopback port and returns it as a node (no
// process) for the load code, and a stop function.
func serve(name string, handler fasthttp.RequestHandler) (*node, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &fasthttp.Server{Handler: handler, Name: name}
	go srv.Serve(ln)
	nd := &node{id: name, http: ln.Addr().String()}
	nd.client = &fasthttp.HostClient{Addr: nd.http, MaxConns: 4096, ReadTimeout: 30 * time.Second}
	return nd, func() { srv.Shutdown() }, nil
}

// bare is the HTTP ceiling: a fasthttp handler answering a constant body.
func bare(body []byte) (*node, func(), error) {
	return serve("bare", func(c *fasthttp.RequestCtx) {
		c.SetContentType("application/json")
		c.Response.SetBodyRaw(body)
	})
}

var errFull = errors.New("slot_taken")

// naive is the design talon is measured against: one bbolt transaction,
// so one fsync, per booking; the window time is checked and taken inside
// it, so it is correct too, just one booking at a time. In the bench
// region every window serves every service, so counting the visits that
// hold each slot of an office (at most windows) is exact there.
func naive(dir string, windows int) (*node, func(), error) {
	db, err := bbolt.Open(filepath.Join(dir, "naive.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, nil, err
	}
	nd, stop, err := serve("naive", func(c *fasthttp.RequestCtx) {
		var req struct {
			Office, Service, Start string
		}
		if json.Unmarshal(c.PostBody(), &req) != nil {
			c.SetStatusCode(400)
			return
		}
		var id uint64
		err := db.Update(func(tx *bbolt.Tx) error {
			taken, err := tx.CreateBucketIfNotExists([]byte("taken"))
			if err != nil {
				return err
			}
			bookings, err := tx.CreateBucketIfNotExists([]byte("bookings"))
			if err != nil {
				return err
			}
			start, err := time.Parse(time.RFC3339, req.Start)
			if err != nil {
				return err
			}
			slots := 1
			if req.Service == "passport" { // 20 minutes: two slots
				slots = 2
			}
			var keys [][]byte
			var held []uint64
			for i := range slots {
				key := []byte(req.Office + "|" + start.Add(time.Duration(i)*15*time.Minute).Format(time.RFC3339))
				n := uint64(0)
				if v := taken.Get(key); v != nil {
					n = binary.BigEndian.Uint64(v)
				}
				if n >= uint64(windows) {
					return errFull
				}
				keys, held = append(keys, key), append(held, n)
			}
			for i, key := range keys {
				if err := taken.Put(key, binary.BigEndian.AppendUint64(nil, held[i]+1)); err != nil {
					return err
				}
			}
			id, _ = bookings.NextSequence()
			return bookings.Put(binary.BigEndian.AppendUint64(nil, id), c.PostBody())
		})
		switch {
		case errors.Is(err, errFull):
			c.SetStatusCode(409)
			c.SetBodyString(`{"error":{"code":"slot_taken"}}`)
		case err != nil:
			c.SetStatusCode(500)
		default:
			c.SetStatusCode(201)
			c.SetBodyString(`{"id":"` + strconv.FormatUint(id, 10) + `"}`)
		}
	})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return nd, func() { stop(); db.Close() }, nil
}
