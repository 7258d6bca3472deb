package arbiter

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Candidacy. A backup that would take a unit over if its key were freed
// stands for it:
//
//	<prefix>/instances/<name>/candidates/<node>   its priority, under its lease
//
// When a key is freed, every backup sees the same list (from its watch) and
// they claim in its order, a head start apart: the best at once. Without
// it the backups raced by a few milliseconds of priority-scaled delay, and
// on a loaded host the lowest priority often won, after which the rightful
// master preempted it: two moves instead of one, each a GARP storm. A key
// dies with its node's lease, so a dead node drops out of the list.

const candidatesInfix = "/candidates/"

func candidateKey(prefix, name, node string) string {
	return instancesPrefix(prefix) + url.PathEscape(name) + candidatesInfix + url.PathEscape(node)
}

// parseCandidate splits a candidacy key into the unit's and node's names.
func parseCandidate(prefix, key string) (name, node string, ok bool) {
	rest, found := strings.CutPrefix(key, instancesPrefix(prefix))
	if !found {
		return "", "", false
	}
	encName, encNode, found := strings.Cut(rest, candidatesInfix)
	if !found || strings.Contains(encName, "/") || strings.Contains(encNode, "/") {
		return "", "", false
	}
	name, err1 := url.PathUnescape(encName)
	node, err2 := url.PathUnescape(encNode)
	if err1 != nil || err2 != nil || name == "" || node == "" {
		return "", "", false
	}
	return name, node, true
}

// Stand sets this node's candidacy for the unit: prio > 0 stands (a backup
// ready to take over), 0 withdraws (master, fault, an operator's hold).
// It is written in the background and rewritten under every new lease.
func (a *Arbiter) Stand(name string, prio uint8) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.unitLocked(name)
	if u.stand == prio {
		return
	}
	u.stand = prio
	a.enqueue(u, op{stand: true})
}

// restandLocked queues the candidacies again after a new lease: the old
// lease's keys are gone or going.
func (a *Arbiter) restandLocked() {
	for _, u := range a.units {
		if u.stand != 0 {
			a.enqueue(u, op{stand: true})
		}
	}
}

// doStand brings the unit's candidacy key in line with u.stand. A failure
// leaves it as it was until the next change or lease: a stale candidacy
// only costs the others a head start.
func (a *Arbiter) doStand(ctx context.Context, u *unit) {
	a.mu.Lock()
	want, lease := u.stand, a.leaseID
	same := want == u.stood && (want == 0 || lease == u.stoodLease)
	a.mu.Unlock()
	if same || (want != 0 && lease == 0) {
		return // nothing to do, or no lease yet: restandLocked will queue it
	}
	key := candidateKey(a.cfg.Prefix, u.name, a.cfg.Node)
	rctx, cancel := a.st.rpcCtx(ctx)
	defer cancel()
	var err error
	if want == 0 {
		_, err = a.cli.Delete(rctx, key)
	} else {
		_, err = a.cli.Put(rctx, key, strconv.Itoa(int(want)), clientv3.WithLease(lease))
	}
	if err != nil {
		a.log.Debug("candidacy not written", "unit", u.name, "priority", want, "err", err)
		return
	}
	a.mu.Lock()
	u.stood, u.stoodLease = want, lease
	a.mu.Unlock()
}

// setCandidateLocked records a candidacy seen in etcd (prio 0: gone).
func (a *Arbiter) setCandidateLocked(name, node string, prio uint8) {
	if prio == 0 {
		delete(a.cands[name], node)
		return
	}
	if a.cands[name] == nil {
		a.cands[name] = map[string]uint8{}
	}
	a.cands[name][node] = prio
}

func parsePrio(v []byte) uint8 {
	p, err := strconv.ParseUint(string(v), 10, 8)
	if err != nil {
		return 0
	}
	return uint8(p)
}

// orderLocked lists the unit's candidates in the order they claim a freed
// key: the release's target first, then by priority, then by name (every
// node computes the same order). skip (the node that released) is left out.
func (a *Arbiter) orderLocked(name, skip, target string) []string {
	var nodes []string
	for node := range a.cands[name] {
		if node != skip {
			nodes = append(nodes, node)
		}
	}
	prios := a.cands[name]
	slices.SortFunc(nodes, func(x, y string) int {
		switch {
		case x == target:
			return -1
		case y == target:
			return 1
		}
		return cmp.Or(cmp.Compare(prios[y], prios[x]), strings.Compare(x, y))
	})
	return nodes
}
