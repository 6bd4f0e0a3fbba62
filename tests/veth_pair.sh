# Sourced by shell tests and benchmarks: two netns joined by a veth pair.
# veth_pair NS_C NS_S IF_C IF_S NET: creates both namespaces (lo up) and the
# pair, NET.1/24 on IF_C in NS_C and NET.2/24 on IF_S in NS_S, both up.
# NET is a /24 of 198.18.0.0/15, e.g. 198.18.249.  The caller deletes the
# namespaces (that removes the pair).
veth_pair() {
	ip netns add "$1" &&
	ip netns add "$2" &&
	ip link add "$3" netns "$1" type veth peer name "$4" netns "$2" &&
	ip -n "$1" addr add "$5.1/24" dev "$3" &&
	ip -n "$2" addr add "$5.2/24" dev "$4" &&
	ip -n "$1" link set lo up && ip -n "$2" link set lo up &&
	ip -n "$1" link set "$3" up && ip -n "$2" link set "$4" up
}
