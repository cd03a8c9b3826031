// The ping-pong app of the models benchmark: every byte received is sent back (RFC 862).
import { defineApp } from '../../dist/src/index.js';

export default defineApp({
  onMessage(conn, data) {
    conn.send(data);
  },
});
