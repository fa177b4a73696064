<?php
// Publishes "flash" on "news" until a subscriber receives it (five seconds at most).
$socket = stream_socket_client("tcp://127.0.0.1:" . (int)$argv[1], $errno, $error, 5);
for ($i = 0; $i < 100; $i++) {
    fwrite($socket, "*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$5\r\nflash\r\n");
    if (trim(fgets($socket)) !== ":0") exit(0);
    usleep(50000);
}
exit(1);
