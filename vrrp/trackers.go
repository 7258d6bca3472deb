package vrrp

import (
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/vrrp/track"
)

// RunTrackers returns the Trackers that run, for a configuration, every
// vrrp_script some instance tracks (with runner), a link watcher for every
// tracked interface, and a reader for every track_file. Scripts nobody
// tracks are not run, as in keepalived.
func RunTrackers(runner track.Runner, clk clock.Clock, log *slog.Logger) Trackers {
	return func(ctx context.Context, cfg *config.Config, out chan<- track.Status) {
		scripts := map[string]bool{}
		ifaces := map[string]bool{}
		files := map[string]bool{}
		procs := map[string]bool{}
		for _, in := range cfg.Instances {
			for _, t := range trackersOf(in) {
				switch t.Kind {
				case track.KindScript:
					scripts[t.Name] = true
				case track.KindInterface:
					ifaces[t.Name] = true
				case track.KindFile:
					files[t.Name] = true
				case track.KindProcess:
					procs[t.Name] = true
				}
			}
		}
		var wg sync.WaitGroup
		start := func(what string, run func(context.Context, chan<- track.Status) error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := run(ctx, out); err != nil {
					log.Error("tracker stopped", "tracker", what, "err", err)
				}
			}()
		}
		for _, s := range cfg.Scripts {
			if !scripts[s.Name] {
				continue
			}
			user := runAsName(s.User, s.Group)
			if s.User == "" {
				user = runAsName(cfg.Global.ScriptUser, cfg.Global.ScriptGroup)
			}
			sc := track.NewScript(track.ScriptConfig{
				Name: s.Name, Command: s.Script, Interval: s.Interval, Timeout: s.Timeout,
				Rise: s.Rise, Fall: s.Fall, InitFail: s.InitFail, User: user,
			}, runner, clk)
			start("vrrp_script "+s.Name, sc.Run)
		}
		if len(ifaces) > 0 {
			start("interfaces", track.NewInterfaces(clk, sortedKeys(ifaces)...).Run)
		}
		for _, tp := range cfg.TrackProcesses {
			if procs[tp.Name] {
				start("vrrp_track_process "+tp.Name, track.NewProcess(processConfig(tp), clk).Run)
			}
		}
		for _, f := range cfg.TrackFiles {
			if files[f.Name] {
				start("track_file "+f.Name, track.NewFile(track.FileConfig{Name: f.Name, Path: f.File}, clk).Run)
			}
		}
		wg.Wait()
	}
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// initTrackFiles writes the init_file value of every vrrp_track_file that
// has one, when the file is missing or with overwrite, as keepalived does
// when it starts (never on reload: track_file.c track_file_end_handler).
func (e *Engine) initTrackFiles() {
	for _, f := range e.cfg.TrackFiles {
		if !f.InitFile {
			continue
		}
		st, err := os.Stat(f.File)
		switch {
		case err == nil && !f.Overwrite:
			continue
		case err == nil && !st.Mode().IsRegular():
			e.log.Error("cannot initialise track file: not a regular file", "track_file", f.Name, "file", f.File)
			continue
		}
		value := f.InitValue
		if value == "" {
			value = "0"
		}
		if err := os.WriteFile(f.File, []byte(value+"\n"), 0o644); err != nil {
			e.log.Error("unable to initialise track file", "track_file", f.Name, "err", err)
		}
	}
}

// processConfig is the tracker's view of a vrrp_track_process.
func processConfig(tp *config.TrackProcess) track.ProcessConfig {
	pc := track.ProcessConfig{Name: tp.Name, Process: tp.Process, Params: tp.Params, FullCommand: tp.FullCommand,
		Quorum: tp.Quorum, QuorumMax: tp.QuorumMax, ForkDelay: tp.ForkDelay, TerminateDelay: tp.TerminateDelay}
	if pc.QuorumMax < 0 {
		pc.QuorumMax = math.MaxInt
	}
	switch tp.ParamMatch {
	case config.ParamMatchExact:
		pc.ParamMatch = track.ParamMatchExact
	case "partial":
		pc.ParamMatch = track.ParamMatchPartial
	case "initial":
		pc.ParamMatch = track.ParamMatchInitial
	}
	return pc
}

// promoteSecondaries sets promote_secondaries on the interfaces of the
// instances that ask for it, remembering each old value for the exit
// (keepalived set_/reset_promote_secondaries).
func (e *Engine) promoteSecondaries() {
	set := e.opt.Sysctl
	if set == nil {
		set = procSysctl
	}
	for _, in := range e.insts {
		if !in.cfg.PromoteSecondaries || in.cfg.Family != 4 {
			continue
		}
		if _, done := e.sysctls[in.cfg.Interface]; done {
			continue
		}
		old, err := set(in.cfg.Interface, "promote_secondaries", "1")
		if err != nil {
			in.log.Warn("promote_secondaries", "interface", in.cfg.Interface, "err", err)
			continue
		}
		if e.sysctls == nil {
			e.sysctls = map[string]string{}
		}
		e.sysctls[in.cfg.Interface] = old
	}
}

// restoreSysctls puts back what promoteSecondaries changed.
func (e *Engine) restoreSysctls() {
	set := e.opt.Sysctl
	if set == nil {
		set = procSysctl
	}
	for ifname, old := range e.sysctls {
		if old == "1" {
			continue
		}
		if _, err := set(ifname, "promote_secondaries", old); err != nil {
			e.log.Warn("restore promote_secondaries", "interface", ifname, "err", err)
		}
	}
	e.sysctls = nil
}

// procSysctl writes /proc/sys/net/ipv4/conf/IF/KEY.
func procSysctl(ifname, key, value string) (string, error) {
	p := filepath.Join("/proc/sys/net/ipv4/conf", ifname, key)
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), os.WriteFile(p, []byte(value), 0o644)
}
