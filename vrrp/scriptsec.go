package vrrp

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/track"
)

// defaultScriptUser is who runs scripts without script_user when it exists
// (keepalived get_default_script_user).
const defaultScriptUser = "keepalived_script"

// VetScripts applies keepalived's script security (core/notify.c
// check_script_secure, vrrp.c check_vrrp_script_security) to the
// vrrp_scripts and notify scripts of cfg, and returns what it found, one
// line each, for the log and `vipd -t`:
//   - without script_user, scripts run as keepalived_script if that user
//     exists (cfg.Global.ScriptUser is set to it), else as root; with
//     enable_script_security and neither, scripts without their own user
//     are disabled;
//   - a script that cannot be found or is not executable for its user is
//     disabled; so is one with a path a non-root user could change, when
//     root runs it and enable_script_security is set (without it, a
//     warning);
//   - a disabled vrrp_script is no longer tracked by any instance or sync
//     group (as if never configured); a disabled notify script never runs;
//   - scripts without enable_script_security earn keepalived's "SECURITY
//     VIOLATION" line.
func VetScripts(cfg *config.Config) []string {
	g := &cfg.Global
	security := g.EnableScriptSecurity
	var out []string
	defaultFail := ""
	if g.ScriptUser == "" {
		if _, err := user.Lookup(defaultScriptUser); err == nil {
			g.ScriptUser = defaultScriptUser
		} else if security {
			defaultFail = fmt.Sprintf("unable to set default user %s for scripts (no script_user in global_defs)", defaultScriptUser)
			out = append(out, defaultFail)
		}
	}
	checked, insecure := false, false
	vet := func(what, cmd, usr, grp string) (disabled bool) {
		if cmd == "" {
			return false
		}
		if usr == "" && defaultFail != "" {
			out = append(out, fmt.Sprintf("disabling %s: %s", what, defaultFail))
			return true
		}
		if usr == "" {
			usr, grp = g.ScriptUser, g.ScriptGroup
		}
		who, err := resolveRunAs(usr, grp)
		if err != nil {
			out = append(out, fmt.Sprintf("disabling %s: %v", what, err))
			return true
		}
		v := track.CheckScript(cmd, who, security)
		checked = true
		if v.Insecure != "" {
			insecure = true
			if v.Disabled == "" {
				out = append(out, fmt.Sprintf("%s: %s", what, v.Insecure))
			}
		}
		if v.Disabled != "" {
			out = append(out, fmt.Sprintf("disabling %s: %s", what, v.Disabled))
			return true
		}
		return false
	}

	var gone []string
	for _, s := range cfg.Scripts {
		if vet("vrrp_script "+s.Name, s.Script, s.User, s.Group) {
			gone = append(gone, s.Name)
		}
	}
	untrack := func(refs []config.TrackRef) []config.TrackRef {
		return slices.DeleteFunc(refs, func(r config.TrackRef) bool { return slices.Contains(gone, r.Name) })
	}
	cfg.Scripts = slices.DeleteFunc(cfg.Scripts, func(s *config.Script) bool { return slices.Contains(gone, s.Name) })
	for _, in := range cfg.Instances {
		in.TrackScripts = untrack(in.TrackScripts)
		for _, n := range []*string{&in.NotifyMaster, &in.NotifyBackup, &in.NotifyFault, &in.NotifyStop, &in.Notify} {
			if vet("notify script of vrrp_instance "+in.Name, *n, "", "") {
				*n = ""
			}
		}
	}
	for _, sg := range cfg.SyncGroups {
		sg.TrackScripts = untrack(sg.TrackScripts)
		for _, n := range []*string{&sg.NotifyMaster, &sg.NotifyBackup, &sg.NotifyFault, &sg.NotifyStop, &sg.Notify} {
			if vet("notify script of vrrp_sync_group "+sg.Name, *n, "", "") {
				*n = ""
			}
		}
	}
	for name, sc := range map[string]*config.RunScript{"startup_script": &g.StartupScript, "shutdown_script": &g.ShutdownScript} {
		if vet(name, sc.Script, sc.User, sc.Group) {
			sc.Script = ""
		}
	}
	for _, f := range []*config.NotifyFIFO{&g.NotifyFIFO, &g.VRRPNotifyFIFO} {
		if f.Path != "" && vet("notify_fifo_script of "+f.Path, f.Script, f.ScriptUser, f.ScriptGroup) {
			f.Script = ""
		}
	}
	if !security && checked {
		line := "SECURITY VIOLATION - scripts are being executed but script_security not enabled."
		if insecure {
			line += " There are insecure scripts."
		}
		out = append(out, line)
	}
	return out
}

// resolveRunAs turns user and group names into ids; "" means this process.
func resolveRunAs(usr, grp string) (track.RunAs, error) {
	who := track.RunAs{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	if usr != "" {
		u, err := user.Lookup(usr)
		if err != nil {
			return who, fmt.Errorf("script user %q: %w", usr, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		who = track.RunAs{UID: uint32(uid), GID: uint32(gid)}
	}
	if grp != "" {
		gr, err := user.LookupGroup(grp)
		if err != nil {
			return who, fmt.Errorf("script group %q: %w", grp, err)
		}
		gid, _ := strconv.ParseUint(gr.Gid, 10, 32)
		who.GID = uint32(gid)
	}
	return who, nil
}

// runAsName is the runner's user argument: "user" or "user:group".
func runAsName(usr, grp string) string {
	if grp == "" || usr == "" {
		return usr
	}
	return usr + ":" + grp
}
