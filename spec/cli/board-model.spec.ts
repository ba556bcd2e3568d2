/**
 * The board's table stays bounded however many agent ids its subjects name: the agent heard
 * least recently goes first, and an agent heard again keeps its row.
 */
import { BoardModel, MAX_AGENT_ROWS } from '../../lib/cli/board-page/board-model';
import type { StatusVerdict } from '../../lib/index';

const refused = (agent: string): StatusVerdict => ({
  ok: false,
  reason: 'schema',
  subject: `backbeat.chorus-dev.status.${agent}`,
});

describe('BoardModel', () => {
  it('keeps at most MAX_AGENT_ROWS agents, the least recently heard going first', () => {
    const model = new BoardModel();
    model.addVerdict(refused('kept'), 0);
    for (let i = 0; i < MAX_AGENT_ROWS * 3; i++) {
      model.addVerdict(refused(`junk-${i}`), i + 1);
      if (i % 100 === 0) model.addVerdict(refused('kept'), i + 1); // heard again now and then
    }
    expect(model.agents.size).toBe(MAX_AGENT_ROWS);
    expect(model.agents.has('kept')).toBe(true);
    expect(model.agents.has('junk-0')).toBe(false);
    expect(model.agents.has(`junk-${MAX_AGENT_ROWS * 3 - 1}`)).toBe(true);
  });
});
