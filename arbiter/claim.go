package arbiter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Ownership keys. Every arbitrated unit has a name: an instance's name, or
// GroupName(g) for a sync group (whose members move together and so share
// one key). The name is path-escaped into
//
//	<prefix>/instances/<name>/owner     JSON Owner, under the holder's lease
//	<prefix>/instances/<name>/released  the token of the last clean release
//
// "group:" cannot clash with an instance name in practice (keepalived
// instance names are single words that nobody starts with "group:"; the
// config validator may forbid it outright).

// GroupName is the arbitrated name of a sync group.
func GroupName(group string) string { return "group:" + group }

const (
	ownerSuffix    = "/owner"
	releasedSuffix = "/released"
)

func instancesPrefix(prefix string) string { return prefix + "/instances/" }

func ownerKey(prefix, name string) string {
	return instancesPrefix(prefix) + url.PathEscape(name) + ownerSuffix
}

func releasedKey(prefix, name string) string {
	return instancesPrefix(prefix) + url.PathEscape(name) + releasedSuffix
}

// parseKey splits an etcd key under prefix into the unit's name and
// whether it is the owner key (else the released marker).
func parseKey(prefix, key string) (name string, owner, ok bool) {
	rest, found := strings.CutPrefix(key, instancesPrefix(prefix))
	if !found {
		return "", false, false
	}
	var enc string
	switch {
	case strings.HasSuffix(rest, ownerSuffix):
		enc, owner = strings.TrimSuffix(rest, ownerSuffix), true
	case strings.HasSuffix(rest, releasedSuffix):
		enc = strings.TrimSuffix(rest, releasedSuffix)
	default:
		return "", false, false
	}
	name, err := url.PathUnescape(enc)
	if err != nil || strings.Contains(enc, "/") {
		return "", false, false
	}
	return name, owner, true
}

// Owner is the value of an ownership key. Lease and Incarnation identify
// the process that wrote it: a restarted vipd has the same Node but a new
// lease and incarnation, and never adopts the old key.
type Owner struct {
	Node        string    `json:"node"`
	Priority    uint8     `json:"priority"`
	Lease       int64     `json:"lease"`
	Incarnation string    `json:"incarnation"`
	Time        time.Time `json:"time"` // wall clock at the claim; informational
}

func decodeOwner(kv *mvccpb.KeyValue) Owner {
	var o Owner
	if err := json.Unmarshal(kv.Value, &o); err != nil {
		// A foreign or corrupt value still blocks the claim (CreateRevision
		// is what counts); name it so the denial is readable.
		o.Node = fmt.Sprintf("unknown (%q)", truncate(string(kv.Value), 40))
	}
	return o
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// etcdClient is the part of *clientv3.Client the arbiter uses (tests wrap
// it to inject faults).
type etcdClient interface {
	clientv3.KV
	clientv3.Lease
	clientv3.Watcher
}

var _ etcdClient = (*clientv3.Client)(nil)

// store runs the ownership transactions. Every RPC gets its own timeout and
// requires an etcd leader, so a member cut off from the quorum answers with
// an error instead of a stale read.
type store struct {
	cli     etcdClient
	prefix  string
	timeout time.Duration
}

func (s *store) rpcCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return clientv3.WithRequireLeader(ctx), cancel
}

// claimAttempts bounds how often an indeterminate claim that turned out
// not to have been applied is tried again before the claim is denied.
const claimAttempts = 3

// outcome is how a claim ended.
type outcome struct {
	granted bool
	token   int64 // ours when granted, the holder's otherwise
	holder  Owner // the key's value when not granted
}

// claim puts the owner key under lease if nobody holds it. An errored
// transaction is indeterminate (clientv3 may have retried it, or it may
// have been applied before the connection broke), so the key is re-read:
// written under our lease means granted; someone else's means denied;
// absent means not applied, try again.
func (s *store) claim(ctx context.Context, name string, lease clientv3.LeaseID, o Owner) (outcome, error) {
	key := ownerKey(s.prefix, name)
	val, err := json.Marshal(o)
	if err != nil {
		return outcome{}, fmt.Errorf("encode owner: %w", err)
	}
	var lastErr error
	for range claimAttempts {
		rctx, cancel := s.rpcCtx(ctx)
		resp, err := s.cli.Txn(rctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(val), clientv3.WithLease(lease))).
			Else(clientv3.OpGet(key)).
			Commit()
		cancel()
		if err == nil {
			if resp.Succeeded {
				return outcome{granted: true, token: resp.Header.Revision}, nil
			}
			if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
				return s.judge(kvs[0], lease), nil
			}
			// Deleted between the compare and the get: impossible in one
			// transaction, but harmless to retry.
			continue
		}
		lastErr = err
		kv, rerr := s.read(ctx, key)
		if rerr != nil {
			return outcome{}, fmt.Errorf("claim %s indeterminate: %w (re-read: %w)", name, err, rerr)
		}
		if kv != nil {
			return s.judge(kv, lease), nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return outcome{}, fmt.Errorf("claim %s: %w", name, lastErr)
}

func (s *store) judge(kv *mvccpb.KeyValue, lease clientv3.LeaseID) outcome {
	if kv.Lease == int64(lease) {
		return outcome{granted: true, token: kv.CreateRevision}
	}
	return outcome{token: kv.CreateRevision, holder: decodeOwner(kv)}
}

// read returns the key, or nil when it does not exist.
func (s *store) read(ctx context.Context, key string) (*mvccpb.KeyValue, error) {
	rctx, cancel := s.rpcCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0], nil
}

// release deletes the owner key if it still carries token, and records
// token as cleanly released in the same transaction, so the next claimant
// knows the holder removed its VIPs first and needs no grace. Errors are
// indeterminate too: the key is re-read, and gone or someone else's means
// done.
// releaseMark is the value of the released marker: the token, and the node
// an operator handover is meant for ("4711 n2"), if any.
func releaseMark(token int64, target string) string {
	if target == "" {
		return strconv.FormatInt(token, 10)
	}
	return strconv.FormatInt(token, 10) + " " + target
}

// parseReleaseMark reads a released marker.
func parseReleaseMark(v []byte) (token int64, target string) {
	tok, target, _ := strings.Cut(string(v), " ")
	token, _ = strconv.ParseInt(tok, 10, 64)
	return token, target
}

func (s *store) release(ctx context.Context, name string, token int64, target string) error {
	key := ownerKey(s.prefix, name)
	var lastErr error
	for range claimAttempts {
		rctx, cancel := s.rpcCtx(ctx)
		_, err := s.cli.Txn(rctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", token)).
			Then(clientv3.OpDelete(key), clientv3.OpPut(releasedKey(s.prefix, name), releaseMark(token, target))).
			Commit()
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		kv, rerr := s.read(ctx, key)
		if rerr == nil && (kv == nil || kv.CreateRevision != token) {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("release %s (token %d): %w", name, token, lastErr)
}

// scan reads every ownership key and the revision to watch from.
func (s *store) scan(ctx context.Context) ([]*mvccpb.KeyValue, int64, error) {
	rctx, cancel := s.rpcCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, instancesPrefix(s.prefix), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("scan %s: %w", instancesPrefix(s.prefix), err)
	}
	return resp.Kvs, resp.Header.Revision, nil
}
