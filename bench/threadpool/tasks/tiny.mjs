// The tiny task: x + 1. Measures the pool's own cost per task.
export default function tiny(x) {
  return x + 1;
}
