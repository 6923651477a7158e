#!/bin/sh
set -e
tc qdisc add dev wan0 root handle 1: htb default 1
tc class add dev wan0 parent 1: classid 1:1 htb rate 1000mbit quantum 1514
tc class add dev wan0 parent 1: classid 1:10 htb rate 1000mbit quantum 1514
tc qdisc add dev wan0 parent 1:10 handle 10: netem limit 4850 delay 58ms 0.2ms loss random 0%
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.2.0.0/24 flowid 1:10
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.12/32 flowid 1:10
tc class add dev wan0 parent 1: classid 1:11 htb rate 1000mbit quantum 1514
tc qdisc add dev wan0 parent 1:11 handle 11: netem limit 6684 delay 80ms 0.2ms loss random 0%
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.3.0.0/24 flowid 1:11
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.13/32 flowid 1:11
tc class add dev wan0 parent 1: classid 1:12 htb rate 1000mbit quantum 1514
tc qdisc add dev wan0 parent 1:12 handle 12: netem limit 3267 delay 39ms 0.2ms loss random 0%
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.4.0.0/24 flowid 1:12
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.14/32 flowid 1:12
tc class add dev wan0 parent 1: classid 1:13 htb rate 1000mbit quantum 1514
tc qdisc add dev wan0 parent 1:13 handle 13: netem limit 2934 delay 35ms 0.2ms loss random 0%
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.10.0.0/24 flowid 1:13
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.20/32 flowid 1:13
tc class add dev wan0 parent 1: classid 1:14 htb rate 1000mbit quantum 1514
tc qdisc add dev wan0 parent 1:14 handle 14: netem limit 1000 delay 4ms 0.2ms loss random 0%
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.31/32 flowid 1:14
tc class add dev wan0 parent 1: classid 1:15 htb rate 1000mbit quantum 1514
tc qdisc add dev wan0 parent 1:15 handle 15: netem limit 3434 delay 41ms 0.2ms loss random 0%
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.32/32 flowid 1:15
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.66/32 flowid 1:15
tc class add dev wan0 parent 1: classid 1:16 htb rate 1000mbit quantum 1514
tc qdisc add dev wan0 parent 1:16 handle 16: netem limit 9600 delay 115ms 0.2ms loss random 0%
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.33/32 flowid 1:16
tc class add dev wan0 parent 1: classid 1:17 htb rate 1000mbit quantum 1514
tc qdisc add dev wan0 parent 1:17 handle 17: netem limit 1267 delay 15ms 0.2ms loss random 0%
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.34/32 flowid 1:17
