// Package notify runs keepalived-style notify scripts (notify_master,
// notify_backup, notify_fault, notify_stop and the generic notify) and
// writes notify_fifo lines, in order per instance or sync group.
package notify
