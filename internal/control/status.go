package control

import "time"

// Status is what `vipctl status` shows: the daemon and each VRRP instance.
type Status struct {
	Node       string           `json:"node"`
	ConfigFile string           `json:"config_file"`
	Started    time.Time        `json:"started"`
	Reloaded   time.Time        `json:"reloaded,omitzero"`
	Instances  []InstanceStatus `json:"instances"`
	// Cluster is the gossip view of every member (empty without memberlist).
	Cluster []ClusterMember `json:"cluster,omitempty"`
	// Gateway is the gateway probe's verdict (nil without gateways).
	Gateway *GatewayStatus `json:"gateway,omitempty"`
	// LB is the load balancer (nil without virtual_server blocks).
	LB *LBStatus `json:"lb,omitempty"`
}

// GatewayStatus is the gateway probe's current verdict.
type GatewayStatus struct {
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
}

// ClusterMember is one node as gossip sees it.
type ClusterMember struct {
	Node      string            `json:"node"`
	Addr      string            `json:"addr"`
	State     string            `json:"state"` // alive, dead, left
	Updated   time.Time         `json:"updated,omitzero"`
	Instances []ClusterInstance `json:"instances,omitempty"`
}

// ClusterInstance is one unit (instance or group:NAME) on a member.
type ClusterInstance struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Priority  int    `json:"priority"`
	Token     int64  `json:"token,omitempty"`
	GatewayOK bool   `json:"gateway_ok"`
}

// InstanceStatus is one vrrp_instance as the engine sees it now.
type InstanceStatus struct {
	Name         string          `json:"name"`
	Interface    string          `json:"interface"`
	VRID         int             `json:"vrid"`
	Version      int             `json:"version"`
	State        string          `json:"state"`
	Priority     int             `json:"priority"`      // effective, as sent on the wire
	BasePriority int             `json:"base_priority"` // as configured
	MasterAddr   string          `json:"master_addr,omitempty"`
	AdvertInt    time.Duration   `json:"advert_int"`
	VIPs         []string        `json:"vips"`
	SyncGroup    string          `json:"sync_group,omitempty"`
	Trackers     []TrackerStatus `json:"trackers,omitempty"`
	Last         Transition      `json:"last_transition"`
	FenceUntil   time.Time       `json:"fence_until,omitzero"` // when the kernel drops the VIPs unless refreshed
	Arbiter      *ArbiterStatus  `json:"arbiter,omitempty"`    // nil: not gated (no arbiter, or "arbiter off")
	Stats        InstanceStats   `json:"stats"`
}

// ArbiterStatus is the mastership gate's view of an instance's unit.
type ArbiterStatus struct {
	Unit       string    `json:"unit"` // the ownership key's name: instance or "group:NAME"
	Granted    bool      `json:"granted"`
	Token      int64     `json:"token,omitempty"` // fencing token while granted
	ValidUntil time.Time `json:"valid_until,omitzero"`
	Holder     string    `json:"holder,omitempty"` // who holds it when we were denied
	Reason     string    `json:"reason,omitempty"` // last denial or revocation
	// Counts since start: claims denied, grants revoked, and revocations
	// caused by a gossip conflict (a newer token elsewhere).
	Denials     uint64 `json:"denials"`
	Revocations uint64 `json:"revocations"`
	Conflicts   uint64 `json:"conflicts"`
}

// TrackerStatus is the last result of one tracked script, interface or file.
type TrackerStatus struct {
	Name   string    `json:"name"`
	Kind   string    `json:"kind"`
	Known  bool      `json:"known"`
	OK     bool      `json:"ok"`
	Weight int       `json:"weight"`
	Value  int       `json:"value,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Since  time.Time `json:"since,omitzero"`
}

// Transition is one state change with the reason the state machine gave.
type Transition struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at,omitzero"`
}

// TransitionCount is how often an instance went From → To.
type TransitionCount struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count uint64 `json:"count"`
}

// InstanceStats counts protocol events since the instance started.
type InstanceStats struct {
	AdvertsSent     uint64 `json:"adverts_sent"`
	AdvertsReceived uint64 `json:"adverts_received"`
	Transitions     uint64 `json:"transitions"`
	// InstallErrors counts failed VIP installs and refreshes (netlink).
	InstallErrors uint64 `json:"vip_install_errors,omitempty"`
	// ByTransition counts transitions per from→to pair (reasons are free
	// text and stay in the logs and last_transition).
	ByTransition []TransitionCount `json:"by_transition,omitempty"`
	Dropped      map[string]uint64 `json:"dropped,omitempty"`
}

// LBStatus is the load balancer: the data plane and every virtual server.
type LBStatus struct {
	Dataplane string `json:"dataplane"`
	// Applied is when the kernel last took the desired state.
	Applied time.Time `json:"applied,omitzero"`
	// Error is the data plane's last failure, empty once it applies again.
	Error string `json:"error,omitempty"`
	// Pending: the real servers' states below have changed since the
	// kernel last took them (an Apply is under way, or failed).
	Pending        bool                  `json:"pending,omitempty"`
	VirtualServers []VirtualServerStatus `json:"virtual_servers"`
}

// VirtualServerStatus is one virtual_server.
type VirtualServerStatus struct {
	Name   string `json:"name"` // "10.0.0.1:80/TCP", "fwmark 5", "group NAME"
	Algo   string `json:"lb_algo"`
	Kind   string `json:"lb_kind"`
	Quorum bool   `json:"quorum"`
	// Sorry is true while the sorry server takes the traffic.
	Sorry       bool               `json:"sorry,omitempty"`
	RealServers []RealServerStatus `json:"real_servers"`
}

// RealServerStatus is one real_server and its checkers.
type RealServerStatus struct {
	Addr     string          `json:"addr"`
	Alive    bool            `json:"alive"`
	Weight   int             `json:"weight"` // as programmed (0 when inhibited)
	InTable  bool            `json:"in_table"`
	Checkers []CheckerStatus `json:"checkers,omitempty"`
}

// CheckerStatus is one health checker's state and last result.
type CheckerStatus struct {
	Kind      string    `json:"kind"`
	Up        bool      `json:"up"`
	Detail    string    `json:"detail"` // the last probe's reason
	LastCheck time.Time `json:"last_check,omitzero"`
	Failures  int       `json:"failures,omitempty"`
}
