// Package handler is the HTTP side of the Azure Functions custom handler:
// routes derived from the function folders, both host invocation modes and
// the contract's JSON errors. It knows the Functions host and nothing about JWTs.
package handler
