// bench/poll.ts: the poll section times every poll mode and reports each comparison it names, and
// waits with forecasts against waits without.
import { expect } from 'chai';
import { runSection } from '../../bench/poll.js';

describe('bench/poll: waiting for the GPU and encoding costs', () => {
  it('times the hybrid poll against setImmediate and setTimeout(0), batched and one product at a time', async () => {
    const rows = await runSection();
    expect(rows.map((r) => r.name)).to.have.length(4);
    const [batched, each, forecast, encode] = rows;
    for (const row of [batched, each]) {
      expect(row.value, row.name).to.be.greaterThan(0);
      for (const k of ['setImmediate', 'setTimeout']) {
        const c = row.compare?.[k];
        expect(c, `${row.name}: ${k}`).to.not.equal(undefined);
        expect(c!.ms, `${row.name}: ${k} ms`).to.be.greaterThan(0);
        expect(c!.ratio, `${row.name}: ${k} ratio`).to.be.greaterThan(0);
      }
    }
    expect(each.name).to.match(/one at a time/);
    expect(encode.unit).to.equal('ops/ms');
    expect(forecast.name).to.match(/forecast/);
    expect(forecast.compare?.['no forecast']?.ms, 'the run without forecasts').to.be.greaterThan(0);
    const polls = forecast.extra as Record<string, number>;
    // waits of tens of ms: without a forecast ~40 polls, with one ~15 (a timing, but a wide margin)
    expect(polls.pollsWithout, 'polls without forecasts').to.be.greaterThan(0);
    expect(polls.pollsWithForecast, 'polls with forecasts').to.be.lessThan(polls.pollsWithout);
    for (const k of ['roundTripMsHybrid', 'roundTripMsImmediate', 'roundTripMsTimeout']) expect((batched.extra as Record<string, number>)[k], k).to.be.greaterThan(0);
  });
});
