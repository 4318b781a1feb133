# Shared by the bench scripts that start NBD servers (nbd-fio.sh, idle-cpu.sh); sourced, not run.
# The caller defines die MESSAGE and tmp (the directory holding NAME.log of each server).

# free_port: a TCP port on 127.0.0.1 that nobody listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_nbd PORT PID NAME: until PORT accepts connections, or fail when PID died or 60 s passed.
wait_nbd() {
    local port=$1 pid=$2 name=$3 i
    for i in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.log" >&2; die "$name exited during start-up"; }
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    cat "$tmp/$name.log" >&2
    die "$name did not listen on port $port within 60 s"
}
