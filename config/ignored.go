package config

import (
	_ "embed"
	"strings"
)

// keepalivedKeywordList is every keyword keepalived 2.2.7's parser installs
// (its install_keyword calls). One vipd does not know in a block is a
// keepalived feature vipd ignores, not a typo: it is classified like the
// unsupported ones below.
//
//go:embed keepalived_keywords.txt
var keepalivedKeywordList string

var keepalivedKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(keepalivedKeywordList) {
		m[k] = true
	}
	return m
}()

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
	// keepalived's own process management, logging, D-Bus, SNMP, reload
	// scheduling and child tuning
	"bfd_cpu_affinity": true, "bfd_no_swap": true, "bfd_priority": true, "bfd_process_name": true,
	"bfd_rlimit_rtime": true, "bfd_rlimit_rttime": true, "bfd_rt_priority": true,
	"checker_cpu_affinity": true, "checker_log_all_failures": true, "checker_process_name": true,
	"checker_rlimit_rtime": true, "checker_rlimit_rttime": true, "child_wait_time": true,
	"config_save_dir": true, "data_use_instance": true, "dbus_service_name": true, "enable_dbus": true,
	"enable_snmp_keepalived": true, "enable_snmp_rfc": true, "enable_snmp_rfcv2": true, "enable_snmp_rfcv3": true,
	"fifo_write_vrrp_states_on_reload": true, "include_check": true, "log_all_failures": true,
	"log_unknown_vrids": true, "lvs_netlink_cmd_rcv_bufs": true, "lvs_netlink_cmd_rcv_bufs_force": true,
	"lvs_netlink_monitor_rcv_bufs": true, "lvs_netlink_monitor_rcv_bufs_force": true, "lvs_process_name": true,
	"min_auto_priority_delay": true, "no_checker_emails": true, "no_email_faults": true,
	"process_monitor_rcv_bufs": true, "process_monitor_rcv_bufs_force": true, "process_name": true,
	"random_seed": true, "reload_check_config": true, "reload_file": true, "reload_repeat": true,
	"reload_time_file": true, "rs_init_notifies": true, "smtp_alert_checker": true, "smtp_alert_vrrp": true,
	"snmp_name": true, "snmp_socket": true, "tmp_config_directory": true, "umask": true,
	"vrrp_cpu_affinity": true, "vrrp_netlink_cmd_rcv_bufs_force": true, "vrrp_netlink_monitor_rcv_bufs_force": true,
	"vrrp_notify_priority_changes": true, "vrrp_process_name": true, "vrrp_rlimit_rtime": true,
	"vrrp_rlimit_rttime": true, "vrrp_rx_bufs_multiplier": true, "vrrp_rx_bufs_policy": true,
}
