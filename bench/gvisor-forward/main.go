// gvisor-forward: the benchmark's stand-in for wireproxy (which the Go module proxy does not serve): wireguard-go
// with its tun/netstack (gVisor's TCP/IP stack) as the inner side, and host listeners spliced to stack
// connections with io.Copy, as wireproxy and most Go tools do. Only what the benchmark needs: -L forwards and a
// SOCKS5 CONNECT (no auth, IPv4/IPv6 literals). The device is configured with a UAPI text file.
//
//	gvisor-forward -addr 10.232.0.1 -uapi FILE [-mtu 1420] [-L BIND:PORT=HOST:PORT]... [-socks5 BIND:PORT]
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

type forwards []string

func (f *forwards) String() string     { return strings.Join(*f, ",") }
func (f *forwards) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	addr := flag.String("addr", "", "the tunnel address of this side")
	uapi := flag.String("uapi", "", "a file of UAPI set= lines (private_key, peers)")
	mtu := flag.Int("mtu", 1420, "tunnel MTU")
	socks := flag.String("socks5", "", "SOCKS5 listen address")
	var fwd forwards
	flag.Var(&fwd, "L", "BIND:PORT=HOST:PORT, repeatable")
	flag.Parse()

	tun, tnet, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr(*addr)}, nil, *mtu)
	if err != nil {
		log.Fatalf("netstack: %v", err)
	}
	dev := device.NewDevice(tun, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, "gvisor-forward: "))
	conf, err := os.ReadFile(*uapi)
	if err != nil {
		log.Fatalf("uapi: %v", err)
	}
	if err := dev.IpcSet(string(conf)); err != nil {
		log.Fatalf("uapi: %v", err)
	}
	if err := dev.Up(); err != nil {
		log.Fatalf("up: %v", err)
	}
	for _, f := range fwd {
		bind, target, ok := strings.Cut(f, "=")
		if !ok {
			log.Fatalf("-L %s: want BIND:PORT=HOST:PORT", f)
		}
		to := netip.MustParseAddrPort(target)
		serve(bind, func(c net.Conn) { splice(c, tnet, to) })
	}
	if *socks != "" {
		serve(*socks, func(c net.Conn) { socks5(c, tnet) })
	}
	log.Printf("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	dev.Close()
}

func serve(bind string, handle func(net.Conn)) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		log.Fatalf("listen %s: %v", bind, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				log.Fatalf("accept %s: %v", bind, err)
			}
			go handle(c)
		}
	}()
}

// splice joins a host connection to a new stack connection to `to`, both directions, until either ends.
func splice(c net.Conn, tnet *netstack.Net, to netip.AddrPort) {
	defer c.Close()
	t, err := tnet.DialContextTCPAddrPort(context.Background(), to)
	if err != nil {
		return
	}
	defer t.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(t, c); t.CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, t); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// socks5 serves one RFC 1928 CONNECT without authentication to an IPv4 or IPv6 literal.
func socks5(c net.Conn, tnet *netstack.Net) {
	buf := make([]byte, 262)
	if _, err := io.ReadFull(c, buf[:2]); err != nil || buf[0] != 5 {
		c.Close()
		return
	}
	if _, err := io.ReadFull(c, buf[:buf[1]]); err != nil {
		c.Close()
		return
	}
	c.Write([]byte{5, 0})
	if _, err := io.ReadFull(c, buf[:4]); err != nil || buf[1] != 1 {
		c.Close()
		return
	}
	n := map[byte]int{1: 4, 4: 16}[buf[3]]
	if n == 0 {
		c.Write([]byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0})
		c.Close()
		return
	}
	if _, err := io.ReadFull(c, buf[:n+2]); err != nil {
		c.Close()
		return
	}
	ip, _ := netip.AddrFromSlice(buf[:n])
	to := netip.AddrPortFrom(ip, binary.BigEndian.Uint16(buf[n:n+2]))
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	splice(c, tnet, to)
}
