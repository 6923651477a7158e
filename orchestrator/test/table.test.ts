import assert from 'node:assert/strict';
import { renderTable } from '../src/table';

describe('renderTable', () => {
  it('aligns table columns', () => {
    assert.equal(renderTable(['a', 'bb'], [['xxx', 1]]), 'a    bb\n---  --\nxxx  1');
  });
});
