// Preloaded (`--import`) into a server started by cpu.mjs: answers 'cpu' with process.cpuUsage()
// over IPC, and exits when the parent goes away.
process.on('message', (m) => {
  if (m === 'cpu') process.send(process.cpuUsage());
});
process.on('disconnect', () => process.exit(0));
