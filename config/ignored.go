package config

// harmless are the keepalived keywords vipd ignores that cannot change
// where a VIP or traffic goes: mail, SNMP, process scheduling, buffer
// sizes, debug output, notifications vipd does not emit. Every other
// ignored keyword makes `vipd -t` fail, so an operator never runs a
// configuration whose failover or traffic silently differs from
// keepalived's.
var harmless = map[string]bool{
	// mail and SNMP
	"smtp_alert": true, "smtp_helo_name": true, "enable_traps": true,
	"enable_snmp_vrrp": true, "enable_snmp_checker": true,
	// process scheduling and memory
	"vrrp_no_swap": true, "checker_no_swap": true, "vrrp_priority": true,
	"checker_priority": true, "vrrp_rt_priority": true, "checker_rt_priority": true,
	"max_auto_priority": true,
	// buffers, debug output, pid files
	"vrrp_netlink_cmd_rcv_bufs": true, "vrrp_netlink_monitor_rcv_bufs": true,
	"kernel_rx_buf_size": true, "debug": true, "enable_regex_debug": true,
	"use_pid_dir": true, "instance": true,
	// notifications vipd does not emit (the state changes still happen)
	"notify_master_rx_lower_pri": true, "notify_deleted": true,
	"notify_priority_changes": true, "lvs_notify_fifo": true,
	"lvs_notify_fifo_script": true, "timer_expired_backup": true,
	// how link state is learnt (vipd uses netlink)
	"linkbeat_use_polling": true,
	// iptables/ipsets chains for accept mode: vipd enforces no_accept with
	// nftables (vrrp/firewall) whatever these say
	"vrrp_iptables": true, "vrrp_ipsets": true,
}
