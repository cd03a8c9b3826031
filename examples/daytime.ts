// daytime (RFC 867): sends the date and time as text, then closes.
import { defineApp } from '../src/index.js';

export default defineApp({
  onConnection(conn) {
    conn.send(`${new Date().toString()}\r\n`);
    conn.close();
  },
});
