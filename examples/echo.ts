// echo (RFC 862): every byte received is sent back.
import { defineApp } from '../src/index.js';

export default defineApp({
  onMessage(conn, data) {
    conn.send(data);
  },
});
