package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// EmbeddedConfig configures an etcd member run inside vipd, so that three
// vipd hosts can form their own etcd cluster without installing etcd.
type EmbeddedConfig struct {
	Name           string
	DataDir        string
	PeerURL        string // e.g. http://10.0.0.1:2380 (listened on and advertised)
	ClientURL      string // e.g. http://10.0.0.1:2379
	InitialCluster string // "n1=http://10.0.0.1:2380,n2=...", every member's PeerURL
	ClusterState   string // "new" (default) or "existing"
	// Token keeps members of different clusters apart (default "vipd").
	Token string
	// HeartbeatInterval and ElectionTimeout are etcd's raft timings
	// (defaults 100ms and 1s). The server's minimum lease TTL is
	// ceil(1.5 × ElectionTimeout), so a fast LAN setting (50ms/500ms)
	// allows the 1–2 s lease TTLs the arbiter wants.
	HeartbeatInterval, ElectionTimeout time.Duration
	// ReadyTimeout bounds StartEmbedded's wait for the cluster (default 60s).
	ReadyTimeout time.Duration
	Log          *slog.Logger // etcd's warnings and errors go here
}

// Embedded is a running embedded etcd member.
type Embedded struct {
	etcd      *embed.Etcd
	endpoints []string
	closeOnce sync.Once
	closeErr  error
}

// StartEmbedded starts the member and waits until it has joined a cluster
// with a leader and serves clients, or ctx ends, or ReadyTimeout passes.
// A "new" cluster is ready only once a quorum of its members started, so
// start the members concurrently.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	ec := embed.NewConfig()
	ec.Name, ec.Dir = cfg.Name, cfg.DataDir
	peer, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd peer URL: %w", err)
	}
	client, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd client URL: %w", err)
	}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	ec.InitialCluster = cfg.InitialCluster
	if ec.InitialCluster == "" {
		ec.InitialCluster = cfg.Name + "=" + cfg.PeerURL
	}
	ec.ClusterState = embed.ClusterStateFlagNew
	if cfg.ClusterState != "" {
		ec.ClusterState = cfg.ClusterState
	}
	ec.InitialClusterToken = "vipd"
	if cfg.Token != "" {
		ec.InitialClusterToken = cfg.Token
	}
	if cfg.HeartbeatInterval > 0 {
		ec.TickMs = uint(cfg.HeartbeatInterval.Milliseconds())
	}
	if cfg.ElectionTimeout > 0 {
		ec.ElectionMs = uint(cfg.ElectionTimeout.Milliseconds())
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "etcd", "member", cfg.Name)
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(&zapToSlog{log: log, level: zapcore.WarnLevel}))

	// etcd warns about data directories others can read.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: etcd data dir: %w", err)
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("cluster: start etcd member %s: %w", cfg.Name, err)
	}
	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
		return &Embedded{etcd: e, endpoints: []string{client.String()}}, nil
	case err = <-e.Err():
		err = fmt.Errorf("cluster: etcd member %s failed: %w", cfg.Name, err)
	case <-ctx.Done():
		err = fmt.Errorf("cluster: etcd member %s not ready: %w", cfg.Name, ctx.Err())
	case <-t.C:
		err = fmt.Errorf("cluster: etcd member %s not ready after %v (is a quorum of members started?)", cfg.Name, timeout)
	}
	e.Close()
	return nil, err
}

// Endpoints are the member's client URLs.
func (e *Embedded) Endpoints() []string { return e.endpoints }

// Err delivers a fatal server error, if one happens.
func (e *Embedded) Err() <-chan error { return e.etcd.Err() }

// Close stops the member (gracefully: a leader transfers leadership
// first). Calling it again returns the first result.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() {
		e.etcd.Close()
		select {
		case err := <-e.etcd.Err():
			if err != nil && !errors.Is(err, context.Canceled) {
				e.closeErr = fmt.Errorf("cluster: etcd member: %w", err)
			}
		default:
		}
	})
	return e.closeErr
}

// zapToSlog is a zap core writing to slog, so etcd's logs join vipd's.
type zapToSlog struct {
	log    *slog.Logger
	level  zapcore.Level
	fields []zapcore.Field
}

func (z *zapToSlog) Enabled(l zapcore.Level) bool { return l >= z.level }

func (z *zapToSlog) With(fs []zapcore.Field) zapcore.Core {
	return &zapToSlog{log: z.log, level: z.level, fields: append(append([]zapcore.Field{}, z.fields...), fs...)}
}

func (z *zapToSlog) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if z.Enabled(e.Level) {
		return ce.AddCore(e, z)
	}
	return ce
}

func (z *zapToSlog) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field{}, z.fields...), fs...) {
		f.AddTo(enc)
	}
	attrs := make([]any, 0, 2*len(enc.Fields))
	for k, v := range enc.Fields {
		attrs = append(attrs, k, v)
	}
	lvl := slog.LevelInfo
	switch {
	case e.Level >= zapcore.ErrorLevel:
		lvl = slog.LevelError
	case e.Level == zapcore.WarnLevel:
		lvl = slog.LevelWarn
	case e.Level <= zapcore.DebugLevel:
		lvl = slog.LevelDebug
	}
	z.log.Log(context.Background(), lvl, e.Message, attrs...)
	return nil
}

func (z *zapToSlog) Sync() error { return nil }
