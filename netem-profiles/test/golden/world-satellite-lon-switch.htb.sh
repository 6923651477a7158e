#!/bin/sh
set -e
tc qdisc add dev wan0 root handle 1: htb default 1
tc class add dev wan0 parent 1: classid 1:1 htb rate 1000mbit quantum 1514
tc class add dev wan0 parent 1: classid 1:10 htb rate 1000mbit quantum 1514
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.1.0.0/24 flowid 1:10
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.11/32 flowid 1:10
tc class add dev wan0 parent 1: classid 1:11 htb rate 1000mbit quantum 1514
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.2.0.0/24 flowid 1:11
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.12/32 flowid 1:11
tc class add dev wan0 parent 1: classid 1:12 htb rate 50mbit quantum 1514
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.3.0.0/24 flowid 1:12
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.13/32 flowid 1:12
tc class add dev wan0 parent 1: classid 1:13 htb rate 1000mbit quantum 1514
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.4.0.0/24 flowid 1:13
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.14/32 flowid 1:13
tc class add dev wan0 parent 1: classid 1:14 htb rate 1000mbit quantum 1514
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.31/32 flowid 1:14
tc class add dev wan0 parent 1: classid 1:15 htb rate 1000mbit quantum 1514
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.32/32 flowid 1:15
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.66/32 flowid 1:15
tc class add dev wan0 parent 1: classid 1:16 htb rate 1000mbit quantum 1514
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.33/32 flowid 1:16
tc class add dev wan0 parent 1: classid 1:17 htb rate 1000mbit quantum 1514
tc filter add dev wan0 parent 1: protocol ip prio 1 u32 match ip dst 10.255.0.34/32 flowid 1:17
