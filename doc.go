// Package allot holds the domain of the allot gateway: usage events, token
// counts, exact money, principals, reports and the interfaces that the
// storage, pricing and protocol packages implement. It imports only the
// standard library so every other package can depend on it.
package allot
