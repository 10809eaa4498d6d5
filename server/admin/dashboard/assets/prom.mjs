// Prometheus text exposition parsing and the arithmetic the dashboard draws from it: rates of
// counters between two scrapes and quantiles of histograms, the way Prometheus' own rate() and
// histogram_quantile() compute them. Plain ES module shared by the page and the Node tests.

/** Parses exposition text into samples {name, labels, value}. Comments and blank lines are skipped. */
export function parseMetrics(text) {
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let i = 0;
    while (i < line.length && /[A-Za-z0-9_:]/.test(line[i])) i++;
    const name = line.slice(0, i);
    if (!name) continue;
    const labels = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0) break;
        const key = line.slice(i, eq).trim().replace(/^,/, '').trim();
        i = eq + 1;
        if (line[i] !== '"') break;
        i++;
        let value = '';
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) {
            const next = line[i + 1];
            value += next === 'n' ? '\n' : next;
            i += 2;
          } else {
            value += line[i++];
          }
        }
        i++; // closing quote
        labels[key] = value;
        while (line[i] === ',' || line[i] === ' ') i++;
      }
      i++; // closing brace
    }
    const rest = line.slice(i).trim().split(/\s+/)[0];
    const value = rest === '+Inf' ? Infinity : rest === '-Inf' ? -Infinity : Number(rest);
    if (rest === undefined || rest === '' || (Number.isNaN(value) && rest !== 'NaN')) continue;
    samples.push({ name, labels, value });
  }
  return samples;
}

/** Sums the samples of `name` per value of label `by` (samples without it are ignored). */
export function sumBy(samples, name, by, filter) {
  const out = new Map();
  for (const s of samples) {
    if (s.name !== name || !(by in s.labels)) continue;
    if (filter && !filter(s.labels)) continue;
    const key = s.labels[by];
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** Histogram buckets of `name` per value of label `by`: Map<key, Map<le, cumulative count>>. */
export function bucketsBy(samples, name, by) {
  const out = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !(by in s.labels) || !('le' in s.labels)) continue;
    const key = s.labels[by];
    let buckets = out.get(key);
    if (!buckets) out.set(key, (buckets = new Map()));
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  return out;
}

/** Bucket counts observed between two scrapes (a counter reset counts from zero). */
export function bucketDelta(before, after) {
  const out = new Map();
  for (const [le, count] of after) {
    const prev = before?.get(le) ?? 0;
    out.set(le, count >= prev ? count - prev : count);
  }
  return out;
}

/**
 * The q-quantile (0..1) of cumulative buckets, interpolating linearly inside the bucket that holds
 * it, like histogram_quantile(). Returns null when no observation fell in any bucket. A quantile
 * landing in the +Inf bucket answers the largest finite bound.
 */
export function quantile(buckets, q) {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  if (bounds.length === 0) return null;
  const total = buckets.get(bounds[bounds.length - 1]) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const le of bounds) {
    const count = buckets.get(le);
    if (count >= rank) {
      if (le === Infinity) return bounds.length > 1 ? bounds[bounds.length - 2] : null;
      if (count === lowerCount) return le;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return bounds[bounds.length - 1];
}

/** Per-second rate of a counter between two readings `seconds` apart (resets count from zero). */
export function rate(before, after, seconds) {
  if (!(seconds > 0) || after === undefined) return 0;
  const prev = before ?? 0;
  return (after >= prev ? after - prev : after) / seconds;
}
