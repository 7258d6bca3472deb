package config

import (
	"net/netip"
	"time"
)

// Config is a parsed and validated configuration. Every default is filled
// in by the parser, so consumers never guess.
type Config struct {
	Global         GlobalDefs
	Scripts        []*Script
	TrackFiles     []*TrackFile
	TrackProcesses []*TrackProcess
	// static_ipaddress, static_routes, static_rules: installed while vipd
	// runs, whatever the VRRP states.
	StaticAddresses     []VIP
	StaticRoutes        []Route
	StaticRules         []Rule
	SyncGroups          []*SyncGroup
	Instances           []*Instance
	VirtualServerGroups []*VirtualServerGroup
	// SSL is the top-level SSL block (SSL_GET client certificate), or nil.
	SSL            *SSLClient
	VirtualServers []*VirtualServer
	Arbiter        *Arbiter // nil when there is no arbiter block
}

// Script returns the vrrp_script called name, or nil.
func (c *Config) Script(name string) *Script {
	for _, s := range c.Scripts {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// TrackFile returns the vrrp_track_file called name, or nil.
func (c *Config) TrackFile(name string) *TrackFile {
	for _, f := range c.TrackFiles {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Instance returns the vrrp_instance called name, or nil.
func (c *Config) Instance(name string) *Instance {
	for _, in := range c.Instances {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// SyncGroup returns the vrrp_sync_group called name, or nil.
func (c *Config) SyncGroup(name string) *SyncGroup {
	for _, g := range c.SyncGroups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// VirtualServerGroup returns the virtual_server_group called name, or nil.
func (c *Config) VirtualServerGroup(name string) *VirtualServerGroup {
	for _, g := range c.VirtualServerGroups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Dataplane values for GlobalDefs.LBDataplane.
const (
	DataplaneAuto     = "auto"
	DataplaneIPVS     = "ipvs"
	DataplaneNftables = "nftables"
)

// GlobalDefs is global_defs.
type GlobalDefs struct {
	Pos                  Pos
	RouterID             string
	VRRPVersion          int // 2 or 3, default 2
	ScriptUser           string
	ScriptGroup          string
	EnableScriptSecurity bool
	VRRPStrict           bool
	DefaultInterface     string // default_interface: static_ipaddress without dev goes there (default eth0)
	VRRPDownTimerAdverts int    // default of down_timer_adverts (0: keepalived's 3)
	// StartupScript runs before the instances start, ShutdownScript
	// after they stopped; vipd waits for each up to its timeout.
	StartupScript  RunScript
	ShutdownScript RunScript
	VRRPMinGARP    bool // vrrp_min_garp: GARP defaults of 1 message, no delay, no refresh
	// NotifyFIFO (notify_fifo) and VRRPNotifyFIFO (vrrp_notify_fifo) get a
	// line per VRRP state change; Path "" when not configured.
	NotifyFIFO     NotifyFIFO
	VRRPNotifyFIFO NotifyFIFO
	// Defaults of the vrrp_instance keywords of the same name.
	VRRPLowerPrioNoAdvert    bool
	VRRPHigherPrioSendAdvert bool
	VRRPSkipCheckAdvAddr     bool
	VRRPCheckUnicastSrc      bool
	GARPMasterDelay          time.Duration // default 5s; 0 = no second burst
	GARPMasterRepeat         int           // default 5
	GARPMasterRefresh        time.Duration // default 0 = off
	GARPMasterRefreshRepeat  int           // default 1
	GARPInterval             time.Duration // default 0, µs resolution
	GNAInterval              time.Duration // default 0, µs resolution
	GARPLowerPrioDelay       time.Duration // default GARPMasterDelay
	GARPLowerPrioRepeat      int           // default GARPMasterRepeat
	NotificationEmail        []string
	NotificationEmailFrom    string
	SMTPServer               string        // as written: "host [port]"
	SMTPConnectTimeout       time.Duration // default 30s
	VRRPStartupDelay         time.Duration
	LBDataplane              string         // auto|ipvs|nftables, default auto
	MetricsListen            netip.AddrPort // default 127.0.0.1:9650
	VRRPMcastGroup4          netip.Addr     // default 224.0.0.18
	VRRPMcastGroup6          netip.Addr     // default ff02::12
}

// Script is a vrrp_script.
type Script struct {
	Pos      Pos
	Name     string
	Script   string        // command line as written, quotes removed
	Interval time.Duration // default 1s, ms resolution
	Timeout  time.Duration // default Interval
	Weight   int           // -253..253, default 0
	Reverse  bool          // "weight -20 reverse"
	Rise     int           // default 1
	Fall     int           // default 1
	User     string
	Group    string
	InitFail bool
}

// NotifyFIFO is a named pipe vipd writes notify lines to, and the script
// it starts to read them (keepalived notify_fifo / notify_fifo_script).
type NotifyFIFO struct {
	Pos         Pos
	Path        string
	User, Group string // the pipe's owner when vipd creates it
	Script      string // started with Path appended; "" for none
	ScriptUser  string
	ScriptGroup string
}

// TrackProcess is a vrrp_track_process.
type TrackProcess struct {
	Pos         Pos
	Name        string
	Process     string   // comm, or argv[0] with FullCommand
	Params      []string // arguments after the process name
	ParamMatch  string   // "" (none), ParamMatchExact, "initial" or "partial"
	FullCommand bool
	Weight      int // -254..254, default 0
	Reverse     bool
	Quorum      int // default 1
	QuorumMax   int // -1: unlimited (the default)
	ForkDelay   time.Duration
	// TerminateDelay: the count must stay below quorum this long before
	// the process counts as down.
	TerminateDelay time.Duration
}

// ParamMatchExact is param_match without an argument (or implied by
// arguments after the process name).
const ParamMatchExact = "exact"

// TrackProcess returns the vrrp_track_process called name, or nil.
func (c *Config) TrackProcess(name string) *TrackProcess {
	for _, t := range c.TrackProcesses {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// RunScript is a global script with its user and timeout
// (startup_script, shutdown_script).
type RunScript struct {
	Script      string // "" for none
	User, Group string
	Timeout     time.Duration // default 10s
}

// TrackFile is a vrrp_track_file.
type TrackFile struct {
	Pos       Pos
	Name      string
	File      string
	Weight    int // -254..254, default 1
	Reverse   bool
	InitFile  bool   // init_file given
	InitValue string // value written by init_file, default "0"
	Overwrite bool
}

// SyncGroup is a vrrp_sync_group.
type SyncGroup struct {
	Pos                     Pos
	Name                    string
	Members                 []string
	NotifyMaster            string
	NotifyBackup            string
	NotifyFault             string
	NotifyStop              string
	Notify                  string
	TrackScripts            []TrackRef
	TrackInterfaces         []TrackInterface
	TrackFiles              []TrackRef
	TrackProcesses          []TrackRef
	GlobalTracking          bool
	SyncGroupTrackingWeight bool
}

// TrackRef is an entry of track_script or track_file.
type TrackRef struct {
	Pos       Pos
	Name      string
	Weight    int  // the entry's weight, or the script/file's when not set here
	WeightSet bool // the entry had its own weight
	Reverse   bool
}

// TrackInterface is an entry of track_interface.
type TrackInterface struct {
	Pos     Pos
	Name    string
	Weight  int // 0: FAULT while down
	Reverse bool
}

// VIP is an entry of virtual_ipaddress or virtual_ipaddress_excluded.
type VIP struct {
	Pos     Pos
	Prefix  netip.Prefix // the address as written, /32 or /128 when no mask
	Dev     string
	Label   string
	Scope   string
	Brd     netip.Addr
	NoTrack bool
}

// State values for Instance.State.
const (
	StateMaster = "MASTER"
	StateBackup = "BACKUP"
)

// Authentication types for Instance.AuthType.
const (
	AuthPass = "PASS"
	AuthAH   = "AH"
)

// Instance is a vrrp_instance.
type Instance struct {
	Pos       Pos
	Name      string
	State     string // StateMaster, StateBackup or "" when not written
	Interface string
	VRID      int
	// Priority is 1..255. When not written keepalived derives it from the
	// state: 255 (address owner) for state MASTER, 100 otherwise.
	Priority    int
	PrioritySet bool
	// AdvertInt is the advert_int as written (default 1s); the interval
	// on the wire is EffectiveAdvertInt.
	AdvertInt time.Duration
	// Version is the instance's "version", else global vrrp_version; the
	// version on the wire is EffectiveVersion.
	Version      int
	Family       int // 4 or 6, from the VIPs
	Nopreempt    bool
	Preempt      bool // "preempt" was written (it is the default anyway)
	PreemptDelay time.Duration
	AuthType     string // AuthPass or "" (AH is refused)
	AuthPass     string // at most 8 characters, as on the wire

	VIPs         []VIP
	ExcludedVIPs []VIP
	MCastSrcIP   netip.Addr
	UnicastSrcIP netip.Addr
	UnicastPeers []netip.Addr
	UnicastTTL   int // default 255

	TrackInterfaces []TrackInterface
	TrackScripts    []TrackRef
	TrackFiles      []TrackRef
	TrackProcesses  []TrackRef
	// VirtualRoutes and VirtualRules are installed while the instance is
	// master, after its VIPs.
	VirtualRoutes []Route
	VirtualRules  []Rule

	UseVMAC      bool
	VMACName     string // default "vrrp.<vrid>" when UseVMAC
	VMACXmitBase bool

	// GARP settings, from global_defs unless set on the instance.
	GARPMasterDelay         time.Duration
	GARPMasterRepeat        int
	GARPMasterRefresh       time.Duration
	GARPMasterRefreshRepeat int
	GARPInterval            time.Duration
	GNAInterval             time.Duration
	GARPLowerPrioDelay      time.Duration
	GARPLowerPrioRepeat     int

	DontTrackPrimary bool
	// Accept is accept mode: default on, except in strict mode where it
	// defaults to (priority == 255).
	Accept bool
	Strict bool // global vrrp_strict or instance strict_mode

	NotifyMaster string
	NotifyBackup string
	NotifyFault  string
	NotifyStop   string
	Notify       string

	LowerPrioNoAdvert    bool
	HigherPrioSendAdvert bool
	DownTimerAdverts     int // 1..100, default 3
	// PeerTTL: unicast_peer's min_ttl/max_ttl, inclusive, per peer.
	PeerTTL map[netip.Addr][2]int
	// UnicastFaultNoPeer: unicast configured without peers is FAULT, not
	// multicast.
	// PromoteSecondaries sets the interface's promote_secondaries sysctl
	// while vipd runs, so removing a VIP does not take the addresses of
	// its subnet that the kernel holds as its secondaries with it.
	PromoteSecondaries bool
	UnicastFaultNoPeer bool
	// MCastDstIP is the instance's own multicast group (mcast_dst_ip),
	// zero for vrrp_mcast_group4/6.
	MCastDstIP netip.Addr
	// ConfigFault keeps the instance in FAULT for good (a configuration
	// keepalived accepts but cannot run), with this reason.
	ConfigFault string
	// SkipCheckAdvAddr checks the advert's address list only for the
	// first advert of a new master (keepalived skip_check_adv_addr).
	SkipCheckAdvAddr bool
	// CheckUnicastSrc drops unicast adverts whose source is not one of
	// UnicastPeers (keepalived check_unicast_src).
	CheckUnicastSrc bool

	SyncGroup  string // name of the vrrp_sync_group holding this instance
	ArbiterOff bool   // "arbiter off": VRRP alone decides, as in keepalived
}

// InitialState is the state the instance wants at start: the written
// state, else MASTER for an address owner (priority 255), else BACKUP.
func (in *Instance) InitialState() string {
	if in.State != "" {
		return in.State
	}
	if in.Priority == 255 {
		return StateMaster
	}
	return StateBackup
}

// EffectiveVersion is the VRRP version on the wire: IPv6 always uses v3.
func (in *Instance) EffectiveVersion() int {
	if in.Family == 6 {
		return 3
	}
	return in.Version
}

// EffectiveAdvertInt applies keepalived's rounding: v2 needs whole seconds
// (x.5 rounds up, 0 becomes 1, 256 and more become 255); v3 counts
// centiseconds, 0.01–40.95 s.
func (in *Instance) EffectiveAdvertInt() time.Duration {
	return effectiveAdvertInt(in.AdvertInt, in.EffectiveVersion())
}

func effectiveAdvertInt(d time.Duration, version int) time.Duration {
	if version == 3 {
		d = d.Round(10 * time.Millisecond)
		return min(max(d, 10*time.Millisecond), 40950*time.Millisecond)
	}
	d = d.Round(time.Second)
	return min(max(d, time.Second), 255*time.Second)
}
