package cluster

import "github.com/hashicorp/raft"

type raftLogT = raft.Log

func raftLog(index uint64, data []byte) []raft.Log {
	return []raft.Log{{Index: index, Type: raft.LogCommand, Data: data}}
}
