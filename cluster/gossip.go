package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// What gossip can and cannot prove (the arbiter must respect this):
//
//   - A member seen alive with a MASTER entry and token T proves only that
//     the member *claimed*, at some recent moment, to hold the instance with
//     grant T. It is a hint: memberlist is AP and eventually consistent, so
//     the absence of a conflicting entry proves nothing (the holder may be
//     partitioned from us, or its update still in flight). Only etcd
//     authorizes a claim; gossip can only block one or make an older token
//     step down (DESIGN.md, arbiter contract rule 5).
//   - "dead" means our failure detector (SWIM probes) could not reach the
//     member for ProbeInterval+suspicion timeout. It does not prove the
//     member stopped, or dropped its VIPs: a partition looks the same.
//     Memberlist does not expose "suspect" through its public API (no event
//     is delivered for it), so a suspected member still reads as alive.
//   - "left" means the member announced a graceful leave (a leaving flag in
//     its metadata, then memberlist's leave message); that is a statement
//     from the member itself. Best effort: if the flag is lost or overtaken
//     the member reads as dead, never the other way round.
//   - With 3 or fewer members memberlist has nobody to ask for indirect
//     probes (IndirectChecks needs members other than prober and target),
//     so one lossy link is enough to mark a member dead from one side only.
//     Views can differ between members; never treat them as a quorum.

// Meta limit handling: a node's instance states travel in two ways.
// NodeMeta (≤ 512 bytes, memberlist.MetaMaxSize) carries a compact record
// pushed to everyone quickly by UpdateNode; when the record does not fit,
// MASTER entries are kept first, the record is marked truncated and a
// warning is logged. The full record always travels in the TCP push/pull
// exchange (LocalState/MergeRemoteState, every PushPullInterval), so views
// converge on the full state within a few push/pull intervals. Members()
// uses whichever record has the newer sequence number.

// GossipConfig configures the memberlist gossip.
type GossipConfig struct {
	Node      string         // unique node name
	Bind      netip.AddrPort // listen address (TCP and UDP); port 0 picks a free port
	Advertise netip.AddrPort // address others use to reach us; zero: derived from Bind
	Join      []string       // "host:port" of other members (port default 7946)
	// SecretFile holds a 16, 24 or 32 byte key (AES-128/192/256), raw or
	// base64; when set all gossip is encrypted and unencrypted or
	// wrongly keyed peers are refused. Empty: no encryption.
	SecretFile string
	// ProbeInterval is the SWIM failure-detector period (default 500ms;
	// memberlist's LAN default is 1s). The probe timeout is half of it.
	ProbeInterval time.Duration
	// GossipInterval is how often queued updates are gossiped (default 100ms).
	GossipInterval time.Duration
	// PushPullInterval is the period of full state exchanges (default 5s).
	PushPullInterval time.Duration
}

// DefaultPort is memberlist's conventional port.
const DefaultPort = 7946

// Member states.
const (
	MemberAlive = "alive"
	MemberDead  = "dead"
	MemberLeft  = "left"
)

// InstanceState is one VRRP instance as a node publishes it.
type InstanceState struct {
	Name      string
	State     string // MASTER, BACKUP, FAULT (or INIT)
	Priority  int    // 0..255
	Token     int64  // fencing token of the grant (0: none)
	GatewayOK bool
	Since     time.Time // when State was entered (millisecond precision)
}

// Member is one node in the cluster view.
type Member struct {
	Node      string
	Addr      string          // host:port
	Alive     bool            // memberlist considers it alive (or suspect, see above)
	State     string          // alive, dead or left
	Instances []InstanceState // MASTER entries first, otherwise as published
	// Partial is set when only a truncated record (MASTER entries first)
	// has reached us so far.
	Partial bool
	Updated time.Time // when we last learned something about it
}

// Gossip runs a memberlist member publishing our instance states.
type Gossip struct {
	cfg     GossipConfig
	log     *slog.Logger
	ml      *memberlist.Memberlist
	changes chan struct{} // cap 1: coalesced "view changed"
	dirty   chan struct{} // cap 1: SetLocal → Run calls UpdateNode

	// mu guards everything below. Memberlist calls the delegates with its
	// own locks held, so delegates only touch this state and never call
	// back into memberlist.
	mu      sync.Mutex
	local   record
	dropped int // instances left out of NodeMeta last time (for the log)
	nodes   map[string]*nodeView
	full    map[string]record // from push/pull, by node
}

type nodeView struct {
	addr    string
	state   memberlist.NodeStateType
	meta    record
	metaOK  bool
	updated time.Time
}

// NewGossip binds the memberlist sockets. Call Run to join and serve; Run
// owns shutdown.
func NewGossip(cfg GossipConfig, log *slog.Logger) (*Gossip, error) {
	if cfg.Node == "" {
		return nil, errors.New("cluster: gossip needs a node name")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gossip{
		cfg:     cfg,
		log:     log.With("component", "gossip"),
		changes: make(chan struct{}, 1),
		dirty:   make(chan struct{}, 1),
		nodes:   make(map[string]*nodeView),
		full:    make(map[string]record),
		// A restarted node must publish sequence numbers above its previous
		// incarnation's, which peers may still hold from push/pull.
		local: record{Seq: uint64(time.Now().UnixNano())},
	}
	mc, err := g.memberlistConfig()
	if err != nil {
		return nil, err
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cluster: start memberlist on %v: %w", cfg.Bind, err)
	}
	g.ml = ml
	return g, nil
}

func (g *Gossip) memberlistConfig() (*memberlist.Config, error) {
	cfg := g.cfg
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Node
	bind := cfg.Bind.Addr()
	if !bind.IsValid() {
		bind = netip.IPv4Unspecified()
	}
	mc.BindAddr, mc.BindPort = bind.String(), int(cfg.Bind.Port())
	mc.AdvertisePort = mc.BindPort
	if cfg.Advertise.IsValid() {
		mc.AdvertiseAddr, mc.AdvertisePort = cfg.Advertise.Addr().String(), int(cfg.Advertise.Port())
	}
	mc.ProbeInterval = defaultDur(cfg.ProbeInterval, 500*time.Millisecond)
	mc.ProbeTimeout = mc.ProbeInterval / 2
	mc.GossipInterval = defaultDur(cfg.GossipInterval, 100*time.Millisecond)
	mc.PushPullInterval = defaultDur(cfg.PushPullInterval, 5*time.Second)
	mc.TCPTimeout = 2 * time.Second
	// A restarted node may come back on another address under its name.
	mc.DeadNodeReclaimTime = 10 * time.Second
	mc.Delegate = (*delegate)(g)
	mc.Events = (*events)(g)
	mc.Logger = log.New(&logWriter{log: g.log}, "", 0)
	if cfg.SecretFile != "" {
		key, err := ReadSecretFile(cfg.SecretFile)
		if err != nil {
			return nil, err
		}
		mc.SecretKey = key
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	return mc, nil
}

func defaultDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ReadSecretFile reads a gossip key: base64 (as `openssl rand -base64 32`
// writes it) or the raw 16, 24 or 32 bytes. Base64 wins when the file is
// valid base64 of a valid key length.
func ReadSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: read gossip secret: %w", err)
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err == nil && validKeyLen(len(k)) {
		return k, nil
	}
	if validKeyLen(len(b)) {
		return b, nil
	}
	if t := []byte(strings.TrimSpace(string(b))); validKeyLen(len(t)) {
		return t, nil
	}
	return nil, fmt.Errorf("cluster: gossip secret %s: need 16, 24 or 32 bytes (raw or base64), got %d bytes", path, len(b))
}

func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }

// LocalAddr is the address other members use to reach us.
func (g *Gossip) LocalAddr() netip.AddrPort {
	n := g.ml.LocalNode()
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}

// Run joins the configured members (retrying until one answers, and
// rejoining when we lose sight of them, since memberlist stops probing
// dead members), publishes SetLocal updates, and leaves gracefully when
// ctx is cancelled. It returns nil on cancel.
func (g *Gossip) Run(ctx context.Context) error {
	defer func() {
		if err := g.ml.Shutdown(); err != nil {
			g.log.Warn("memberlist shutdown", "err", err)
		}
	}()
	// Our own address in the join list (one list for every node is
	// convenient) would count as a peer we never see.
	join := slices.DeleteFunc(normalizeJoin(g.cfg.Join), func(j string) bool { return j == g.LocalAddr().String() })
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			// Announce the leave in our metadata first: memberlist's own
			// leave message does not reach the event delegate as "left".
			g.mu.Lock()
			g.local.Seq++
			g.local.Leaving = true
			g.mu.Unlock()
			if err := g.ml.UpdateNode(time.Second); err != nil {
				g.log.Debug("announce leave", "err", err)
			}
			// Wait long enough for the leave to be gossiped at least once.
			if err := g.ml.Leave(time.Second); err != nil {
				g.log.Warn("graceful leave", "err", err)
			}
			return nil
		case <-g.dirty:
			if err := g.ml.UpdateNode(time.Second); err != nil {
				g.log.Debug("update node meta", "err", err)
			}
		case <-retry.C:
			next := 10 * time.Second
			if len(join) > 0 && g.liveOthers() < len(join) {
				n, err := g.ml.Join(join)
				switch {
				case n == 0:
					g.log.Warn("join failed, retrying", "join", join, "err", err)
					next = time.Second
				case err != nil:
					g.log.Debug("joined some members", "contacted", n, "err", err)
				}
			}
			retry.Reset(next)
		}
	}
}

func normalizeJoin(in []string) []string {
	out := make([]string, 0, len(in))
	for _, j := range in {
		if _, _, err := net.SplitHostPort(j); err != nil {
			j = net.JoinHostPort(j, fmt.Sprint(DefaultPort))
		}
		out = append(out, j)
	}
	return out
}

func (g *Gossip) liveOthers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for name, v := range g.nodes {
		if name != g.cfg.Node && v.state == memberlist.StateAlive {
			n++
		}
	}
	return n
}

// SetLocal replaces our published instance states. It does not block: Run
// pushes the update (memberlist UpdateNode) right away.
func (g *Gossip) SetLocal(insts []InstanceState) {
	g.mu.Lock()
	g.local = record{Seq: g.local.Seq + 1, Instances: slices.Clone(insts)}
	g.mu.Unlock()
	select {
	case g.dirty <- struct{}{}:
	default:
	}
	g.notify()
}

// Members returns the cluster view, including ourselves, sorted by name.
// Departed members stay in the view with State dead or left.
func (g *Gossip) Members() []Member {
	// Before g.mu: LocalNode takes memberlist's lock, which memberlist holds
	// while calling our delegates (which take g.mu).
	selfAddr := g.LocalAddr().String()
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.nodes)+1)
	self := false
	for name, v := range g.nodes {
		m := Member{Node: name, Addr: v.addr, State: stateString(v.state), Updated: v.updated}
		m.Alive = m.State == MemberAlive
		rec := v.meta
		if f, ok := g.full[name]; ok && (!v.metaOK || f.Seq > rec.Seq || (f.Seq == rec.Seq && rec.Truncated)) {
			rec = f
		}
		if name == g.cfg.Node {
			self, rec = true, g.local
			m.State, m.Alive = MemberAlive, true
		}
		m.Instances, m.Partial = slices.Clone(rec.Instances), rec.Truncated
		out = append(out, m)
	}
	if !self { // before memberlist announced us to ourselves
		out = append(out, Member{Node: g.cfg.Node, Addr: selfAddr, Alive: true,
			State: MemberAlive, Instances: slices.Clone(g.local.Instances), Updated: time.Now()})
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// Changes delivers a coalesced notification whenever the view may have
// changed (membership, a member's states, our own SetLocal). Read Members
// after each one.
func (g *Gossip) Changes() <-chan struct{} { return g.changes }

func (g *Gossip) notify() {
	select {
	case g.changes <- struct{}{}:
	default:
	}
}

func stateString(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateDead:
		return MemberDead
	case memberlist.StateLeft:
		return MemberLeft
	default: // alive, and suspect (not observable, see the package notes)
		return MemberAlive
	}
}

// events receives memberlist's membership callbacks.
type events Gossip

var _ memberlist.EventDelegate = (*events)(nil)

func (e *events) NotifyJoin(n *memberlist.Node)   { (*Gossip)(e).observe(n, false) }
func (e *events) NotifyLeave(n *memberlist.Node)  { (*Gossip)(e).observe(n, true) }
func (e *events) NotifyUpdate(n *memberlist.Node) { (*Gossip)(e).observe(n, false) }

// observe copies what memberlist tells us; n must not be kept. Node.State
// is not maintained by memberlist (v0.7.0 keeps the state in a private
// field), so the event kind says alive or departed, and the member's last
// metadata says whether it announced a graceful leave.
func (g *Gossip) observe(n *memberlist.Node, departed bool) {
	rec, err := decodeRecord(n.Meta)
	g.mu.Lock()
	v := g.nodes[n.Name]
	if v == nil {
		v = &nodeView{}
		g.nodes[n.Name] = v
	}
	v.addr = n.Address()
	v.state = memberlist.StateAlive
	if departed {
		v.state = memberlist.StateDead
		if err == nil && rec.Leaving {
			v.state = memberlist.StateLeft
		}
	}
	v.updated = time.Now()
	if err == nil {
		v.meta, v.metaOK = rec, true
	} else if len(n.Meta) > 0 {
		g.log.Warn("undecodable node meta", "node", n.Name, "err", err)
	}
	g.mu.Unlock()
	g.notify()
}

// delegate supplies our metadata and push/pull state to memberlist.
type delegate Gossip

var _ memberlist.Delegate = (*delegate)(nil)

func (d *delegate) NodeMeta(limit int) []byte {
	g := (*Gossip)(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	b, dropped := encodeRecord(g.local, limit)
	if dropped != g.dropped {
		if dropped > 0 {
			g.log.Warn("instance states exceed the gossip metadata limit; node meta carries MASTER entries first, the rest travels by push/pull",
				"instances", len(g.local.Instances), "omitted", dropped, "limit", limit)
		} else {
			g.log.Info("instance states fit the gossip metadata again")
		}
		g.dropped = dropped
	}
	return b
}

func (d *delegate) NotifyMsg([]byte)                {}
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }

func (d *delegate) LocalState(bool) []byte {
	g := (*Gossip)(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	return encodePushPull(g.cfg.Node, g.local)
}

func (d *delegate) MergeRemoteState(buf []byte, _ bool) {
	g := (*Gossip)(d)
	node, rec, err := decodePushPull(buf)
	if err != nil {
		g.log.Warn("undecodable push/pull state", "err", err)
		return
	}
	g.mu.Lock()
	changed := false
	if old, ok := g.full[node]; node != g.cfg.Node && (!ok || rec.Seq > old.Seq) {
		g.full[node], changed = rec, true
	}
	g.mu.Unlock()
	if changed {
		g.notify()
	}
}

// logWriter turns memberlist's "[LEVEL] memberlist: ..." lines into slog.
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	s := strings.TrimSpace(string(p))
	lvl := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			s, lvl = strings.TrimSpace(rest), l
			break
		}
	}
	w.log.Log(context.Background(), lvl, s)
	return len(p), nil
}
