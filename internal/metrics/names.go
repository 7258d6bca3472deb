package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metric names, vipd_<subsystem>_<name>_<unit>[_total]. METRICS.md lists
// them with their meaning; keep the two in step.
const (
	NameBuildInfo          = "vipd_build_info"
	NameNodeInfo           = "vipd_node_info"
	NameStatusUp           = "vipd_status_up"
	NameConfigReloadTime   = "vipd_config_last_reload_success_timestamp_seconds"
	NameInstanceInfo       = "vipd_vrrp_instance_info"
	NameInstanceState      = "vipd_vrrp_instance_state"
	NamePriority           = "vipd_vrrp_priority"
	NameBasePriority       = "vipd_vrrp_base_priority"
	NameAdvertInterval     = "vipd_vrrp_advert_interval_seconds"
	NameAdvertsSent        = "vipd_vrrp_adverts_sent_total"
	NameAdvertsReceived    = "vipd_vrrp_adverts_received_total"
	NameAdvertsDropped     = "vipd_vrrp_adverts_dropped_total"
	NameTransitions        = "vipd_vrrp_transitions_total"
	NameTransitionsByPair  = "vipd_vrrp_state_transitions_total"
	NameLastTransitionTime = "vipd_vrrp_last_transition_timestamp_seconds"
	NameVIPsHeld           = "vipd_vrrp_vips_held"
	NameFenceRemaining     = "vipd_vrrp_fence_remaining_seconds"
	NameInstallErrors      = "vipd_vrrp_vip_install_errors_total"
	NameArbiterGranted     = "vipd_arbiter_granted"
	NameArbiterToken       = "vipd_arbiter_token"
	NameArbiterLease       = "vipd_arbiter_lease_remaining_seconds"
	NameGatewayUp          = "vipd_arbiter_gateway_up"
	NameArbiterDenials     = "vipd_arbiter_denials_total"
	NameArbiterRevocations = "vipd_arbiter_revocations_total"
	NameArbiterConflicts   = "vipd_arbiter_conflicts_total"
	NameGossipMembers      = "vipd_cluster_members"
	NameTrackerKnown       = "vipd_tracker_known"
	NameTrackerOK          = "vipd_tracker_ok"
	NameLBDataplaneOK      = "vipd_lb_dataplane_ok"
	NameLBQuorum           = "vipd_lb_virtual_server_quorum"
	NameLBRealServerUp     = "vipd_lb_real_server_up"
	NameLBRealServerWeight = "vipd_lb_real_server_weight"
	NameLBCheckerUp        = "vipd_lb_checker_up"
)

// Label names. The instance's name is "vrrp_instance", not "instance":
// Prometheus attaches its own "instance" target label to every scraped
// series and would rename ours to "exported_instance".
const (
	LabelInstance  = "vrrp_instance"
	LabelInterface = "interface"
	LabelVRID      = "vrid"
	LabelState     = "state"
	LabelReason    = "reason"
	LabelUnit      = "unit"
	LabelTracker   = "tracker"
	LabelKind      = "kind"
	LabelVS        = "virtual_server"
	LabelRS        = "real_server"
	LabelChecker   = "checker"
)

// states are the VRRP states exported as one series each, so that a
// dashboard or alert can select state="MASTER" even while the value is 0.
// They are keepalived's names, as control.InstanceStatus.State carries them.
var states = []string{"INIT", "BACKUP", "MASTER", "FAULT"}

// instanceLabels identify an instance on every per-instance series. The
// interface and VRID depend on the name alone, so they add no series; they
// save a join with vipd_vrrp_instance_info in the common queries.
var instanceLabels = []string{LabelInstance, LabelInterface, LabelVRID}

func withInstance(extra ...string) []string {
	return append(append([]string(nil), instanceLabels...), extra...)
}

// descs are built once per Collector; Describe sends them all, which makes
// the collector a checked one: the registry rejects a name clash at
// registration rather than at scrape time.
type descs struct {
	nodeInfo, statusUp, reloadTime, gatewayUp, members          *prometheus.Desc
	instanceInfo, state, priority, basePriority, advertInterval *prometheus.Desc
	sent, received, dropped, transitions, lastTransition        *prometheus.Desc
	installErrors                                               *prometheus.Desc
	transitionsByPair                                           *prometheus.Desc
	vipsHeld, fenceRemaining                                    *prometheus.Desc
	granted, token, lease                                       *prometheus.Desc
	denials, revocations, conflicts                             *prometheus.Desc
	trackerKnown, trackerOK                                     *prometheus.Desc
	lbOK, lbQuorum, rsUp, rsWeight, checkerUp                   *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	tracker := withInstance(LabelTracker, LabelKind)
	arbiter := withInstance(LabelUnit)
	return descs{
		nodeInfo:   d(NameNodeInfo, "The vipd node name this daemon runs as; always 1.", []string{"node"}),
		statusUp:   d(NameStatusUp, "Whether the status snapshot was read at this scrape (1) or failed (0); per-instance series are absent on failure.", nil),
		reloadTime: d(NameConfigReloadTime, "Unix time of the last successful configuration load (start or reload).", nil),
		gatewayUp:  d(NameGatewayUp, "1 while the configured gateways answer the probe (rise/fall applied); absent without gateways.", nil),
		members:    d(NameGossipMembers, "Gossip members by memberlist state (alive, dead, left); absent without memberlist.", []string{LabelState}),

		instanceInfo:   d(NameInstanceInfo, "Static facts of a VRRP instance; always 1.", withInstance("version", "sync_group")),
		state:          d(NameInstanceState, "Current VRRP state: 1 for the state the instance is in, 0 for the others.", withInstance(LabelState)),
		priority:       d(NamePriority, "Effective VRRP priority, as sent on the wire (base plus tracker weights).", instanceLabels),
		basePriority:   d(NameBasePriority, "VRRP priority as configured.", instanceLabels),
		advertInterval: d(NameAdvertInterval, "Advertisement interval in use.", instanceLabels),
		sent:           d(NameAdvertsSent, "VRRP advertisements sent since the instance started.", instanceLabels),
		received:       d(NameAdvertsReceived, "Valid VRRP advertisements received since the instance started.", instanceLabels),
		dropped:        d(NameAdvertsDropped, "Received VRRP advertisements dropped, by reason, since the instance started.", withInstance(LabelReason)),
		transitions:    d(NameTransitions, "VRRP state transitions since the instance started.", instanceLabels),
		transitionsByPair: d(NameTransitionsByPair, "VRRP state transitions since the instance started, by from and to state (the reason is in the logs).",
			withInstance("from", "to")),
		lastTransition: d(NameLastTransitionTime, "Unix time of the last VRRP state transition; absent before the first.", instanceLabels),
		vipsHeld:       d(NameVIPsHeld, "1 when the instance is MASTER and its VIPs' kernel lifetime (fence) has not expired.", instanceLabels),
		installErrors:  d(NameInstallErrors, "Failed VIP installs and refreshes (netlink errors); a holder whose refreshes keep failing steps down when its fence lapses.", instanceLabels),
		fenceRemaining: d(NameFenceRemaining, "Time until the kernel drops the VIPs unless refreshed; 0 when not holding them.", instanceLabels),

		granted:     d(NameArbiterGranted, "Whether the arbiter grants this instance's unit mastership (1) or not (0); absent when not gated.", arbiter),
		token:       d(NameArbiterToken, "Fencing token of the current grant; 0 when not granted.", arbiter),
		lease:       d(NameArbiterLease, "Time until the arbiter grant expires unless renewed; 0 when not granted or expired.", arbiter),
		denials:     d(NameArbiterDenials, "Claims the arbiter denied (another node held the key) since start.", arbiter),
		revocations: d(NameArbiterRevocations, "Grants revoked (lease deadline, key lost, conflict) since start.", arbiter),
		conflicts:   d(NameArbiterConflicts, "Revocations because gossip showed another node holding the unit with a newer token.", arbiter),

		trackerKnown: d(NameTrackerKnown, "Whether a tracked script, interface or file has reported a result yet.", tracker),
		trackerOK:    d(NameTrackerOK, "Whether a tracked script, interface or file is OK (1) or failing or not yet known (0).", tracker),

		lbOK:      d(NameLBDataplaneOK, "1 when the load balancer's data plane took the last desired state, 0 while applying fails.", []string{"dataplane"}),
		lbQuorum:  d(NameLBQuorum, "1 while the virtual server has quorum, 0 while it does not (the sorry server serves, if any).", []string{LabelVS}),
		rsUp:      d(NameLBRealServerUp, "1 when every health checker of the real server passes, 0 otherwise.", []string{LabelVS, LabelRS}),
		rsWeight:  d(NameLBRealServerWeight, "Weight programmed for the real server (0 when down and inhibited, or out of the table).", []string{LabelVS, LabelRS}),
		checkerUp: d(NameLBCheckerUp, "1 when the health checker passes; checker is KIND#N, N counting from 1 in config order.", []string{LabelVS, LabelRS, LabelChecker}),
	}
}

func (d descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.nodeInfo, d.statusUp, d.reloadTime, d.gatewayUp, d.members,
		d.instanceInfo, d.state, d.priority, d.basePriority, d.advertInterval,
		d.sent, d.received, d.dropped, d.transitions, d.lastTransition, d.transitionsByPair,
		d.vipsHeld, d.fenceRemaining, d.installErrors,
		d.granted, d.token, d.lease, d.denials, d.revocations, d.conflicts,
		d.trackerKnown, d.trackerOK,
		d.lbOK, d.lbQuorum, d.rsUp, d.rsWeight, d.checkerUp,
	}
}
