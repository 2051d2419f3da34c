# A process that never waits still lets time pass: `timeout` stops it.
# busybox timeout execs the command, which dies of SIGTERM (143).
timeout 2 dd if=/dev/zero of=/dev/null bs=1 count=100000000000
timeout 1 cat /dev/zero >/dev/null
timeout 1 yes >/dev/null
yes | head -c 1000000 | md5sum
i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; echo $i
