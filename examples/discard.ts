// discard (RFC 863): every byte received is dropped; counters still record it.
import { defineApp } from '../src/index.js';

export default defineApp({
  onMessage() {},
});
