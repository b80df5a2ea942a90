// Package filter compiles and evaluates endpoint filters: JSON documents
// in the filter syntax of Convoy and Outpost, evaluated against an event
// seen as {"id", "type", "tenant", "time", "attributes", "data"}.
//
// [Compile] turns a filter into a [Program] once, refusing a bad one with
// an [*Error] that locates the fault; [Program.Match] evaluates it against
// a [Document] in time linear in the event for each condition, and never
// panics. The semantics of every operator on every JSON type are written
// down in docs/filtering.md at the root of the module and pinned by this
// package's table test.
package filter
