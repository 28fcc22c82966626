// Package api is talon's HTTP API on fasthttp: it turns requests into
// queue.Commands and reads, and errors into status codes with a stable
// machine-readable code. It depends on a small Store interface, not on Raft;
// cluster failures arrive as the cluster package's sentinel errors.
//
// The whole API is described in openapi.yaml beside this file, served at
// /api/v1/openapi.yaml; a test keeps the two in step.
package api
