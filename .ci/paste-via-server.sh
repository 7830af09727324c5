#!/bin/bash
# usage: .ci/paste-via-server.sh BINARY [serve args…] — two `join --via server` peers, 100 lines pasted into one.
set -u
BIN=$1; shift
D=$(mktemp -d)
$BIN serve --addr 127.0.0.1:0 --no-mailbox "$@" 2>$D/serve.err &
SP=$!
until grep -q 'addr=127' $D/serve.err 2>/dev/null; do sleep 0.05; done
ADDR=$(grep -o 'addr=127[0-9.:]*' $D/serve.err | head -1 | cut -d= -f2)
VTPEER_HOME=$D/r $BIN join paste --server ws://$ADDR --via server --json --exit-after 100 --timeout 60s >$D/recv.out 2>$D/recv.err </dev/null &
RP=$!
until grep -q '"joined"' $D/recv.out 2>/dev/null; do sleep 0.05; done
mkfifo $D/in
VTPEER_HOME=$D/s $BIN join paste --server ws://$ADDR --via server --json <$D/in >$D/send.out 2>$D/send.err &
SNP=$!
exec 3>$D/in
until grep -q 'peer-connected' $D/send.out 2>/dev/null; do sleep 0.05; done
for i in $(seq -w 0 99); do echo "line $i pasted text pasted text pasted text pasted text"; done > $D/paste
T0=$(date +%s%N)
cat $D/paste >&3
wait $RP; RC=$?
T1=$(date +%s%N)
kill -INT $SNP; wait $SNP 2>/dev/null
exec 3>&-
M=$(curl -s http://$ADDR/metrics | grep -E '^vtpeer_signal_(connections_dropped_total|pushbacks_total|frames_relayed_total)')
kill -INT $SP; wait $SP
echo "binary=$BIN args=$* recv_exit=$RC messages=$(grep -c '"type":"message"' $D/recv.out) ms=$(( (T1-T0)/1000000 ))" \
  "reconnecting(recv,send)=$(grep -c '"reconnecting"' $D/recv.out),$(grep -c '"reconnecting"' $D/send.out)" \
  "peer-connected(recv,send)=$(grep -c '"peer-connected"' $D/recv.out),$(grep -c '"peer-connected"' $D/send.out)" \
  "distinct_sas=$(cat $D/recv.out $D/send.out | grep -o '"sas":"[0-9]*"' | sort -u | wc -l)"
echo "$M" | sed 's/^/  /'
rm -rf $D
