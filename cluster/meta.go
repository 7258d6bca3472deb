package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Wire format of a node's instance states (NodeMeta and push/pull state).
// Compact because memberlist's NodeMeta is limited to 512 bytes:
//
//	version(1) flags(1) seq(uvarint) count(uvarint)
//	count × { nameLen(uvarint) name state|gw(1) priority(1) token(varint) sinceUnixMilli(varint) }
//
// flags bit 1 = leaving: the node is leaving gracefully (memberlist does
// not tell its event delegate a leave from a death).
// flags bit 0 = truncated: the record holds only the first instances that
// fit; MASTER entries are encoded first so truncation drops BACKUP/FAULT
// entries before any holder.
const (
	metaVersion   = 1
	flagTruncated = 1 << 0
	flagLeaving   = 1 << 1

	stateBackup = 0
	stateMaster = 1
	stateFault  = 2
	stateInit   = 3
	gwOKBit     = 1 << 7
)

// Instance state names, as VRRP reports them.
const (
	StateMaster = "MASTER"
	StateBackup = "BACKUP"
	StateFault  = "FAULT"
	StateInit   = "INIT"
)

var errShortRecord = errors.New("cluster: truncated state record")

// record is one node's published instance states.
type record struct {
	Seq       uint64 // increases with every SetLocal; newest wins
	Truncated bool
	Leaving   bool
	Instances []InstanceState
}

func stateCode(s string) byte {
	switch s {
	case StateMaster:
		return stateMaster
	case StateFault:
		return stateFault
	case StateInit:
		return stateInit
	default:
		return stateBackup
	}
}

func stateName(c byte) string {
	switch c &^ gwOKBit {
	case stateMaster:
		return StateMaster
	case stateFault:
		return StateFault
	case stateInit:
		return StateInit
	default:
		return StateBackup
	}
}

// encodeRecord encodes r; if limit > 0 and the whole record does not fit,
// it encodes as many instances as fit (MASTER first) and sets the
// truncated flag. It returns the number of instances dropped.
func encodeRecord(r record, limit int) ([]byte, int) {
	insts := orderMasterFirst(r.Instances)
	entries := make([][]byte, 0, len(insts))
	for _, in := range insts {
		entries = append(entries, encodeInstance(in))
	}
	n := len(entries)
	for {
		b := encodeHeader(r.Seq, n < len(entries), r.Leaving, n)
		for _, e := range entries[:n] {
			b = append(b, e...)
		}
		if limit <= 0 || len(b) <= limit || n == 0 {
			return b, len(entries) - n
		}
		n--
	}
}

func encodeHeader(seq uint64, truncated, leaving bool, n int) []byte {
	flags := byte(0)
	if truncated {
		flags |= flagTruncated
	}
	if leaving {
		flags |= flagLeaving
	}
	b := []byte{metaVersion, flags}
	b = binary.AppendUvarint(b, seq)
	return binary.AppendUvarint(b, uint64(n))
}

func encodeInstance(in InstanceState) []byte {
	b := binary.AppendUvarint(nil, uint64(len(in.Name)))
	b = append(b, in.Name...)
	st := stateCode(in.State)
	if in.GatewayOK {
		st |= gwOKBit
	}
	prio := in.Priority
	prio = max(0, min(255, prio))
	b = append(b, st, byte(prio))
	b = binary.AppendVarint(b, in.Token)
	var since int64
	if !in.Since.IsZero() {
		since = in.Since.UnixMilli()
	}
	return binary.AppendVarint(b, since)
}

// orderMasterFirst returns the instances with MASTER entries first, keeping
// the order otherwise.
func orderMasterFirst(in []InstanceState) []InstanceState {
	out := make([]InstanceState, 0, len(in))
	for _, s := range in {
		if s.State == StateMaster {
			out = append(out, s)
		}
	}
	for _, s := range in {
		if s.State != StateMaster {
			out = append(out, s)
		}
	}
	return out
}

// decodeRecord parses what encodeRecord produced. It never panics on
// arbitrary input (fuzzed).
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < 2 {
		return r, errShortRecord
	}
	if b[0] != metaVersion {
		return r, fmt.Errorf("cluster: state record version %d, want %d", b[0], metaVersion)
	}
	r.Truncated = b[1]&flagTruncated != 0
	r.Leaving = b[1]&flagLeaving != 0
	b = b[2:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return r, errShortRecord
	}
	r.Seq, b = seq, b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return r, errShortRecord
	}
	b = b[n:]
	// Each entry takes at least 5 bytes; refuse counts the buffer cannot hold.
	if count > uint64(len(b)/5) {
		return r, errShortRecord
	}
	for range count {
		var in InstanceState
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return r, errShortRecord
		}
		in.Name, b = string(b[n:n+int(l)]), b[n+int(l):]
		if len(b) < 2 {
			return r, errShortRecord
		}
		in.State, in.GatewayOK, in.Priority = stateName(b[0]), b[0]&gwOKBit != 0, int(b[1])
		b = b[2:]
		tok, n := binary.Varint(b)
		if n <= 0 {
			return r, errShortRecord
		}
		in.Token, b = tok, b[n:]
		since, n := binary.Varint(b)
		if n <= 0 {
			return r, errShortRecord
		}
		if since != 0 {
			in.Since = time.UnixMilli(since)
		}
		b = b[n:]
		r.Instances = append(r.Instances, in)
	}
	if len(b) != 0 {
		return r, fmt.Errorf("cluster: %d trailing bytes in state record", len(b))
	}
	return r, nil
}

// encodePushPull prefixes a full record with its node name, for the TCP
// push/pull exchange where the sender is not otherwise identified.
func encodePushPull(node string, r record) []byte {
	b := binary.AppendUvarint(nil, uint64(len(node)))
	b = append(b, node...)
	rec, _ := encodeRecord(r, 0)
	return append(b, rec...)
}

func decodePushPull(b []byte) (string, record, error) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", record{}, errShortRecord
	}
	node := string(b[n : n+int(l)])
	r, err := decodeRecord(b[n+int(l):])
	return node, r, err
}
