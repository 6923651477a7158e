import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressOf, boardsWithRole, interfaceOn, loadProfile, loadTopology, predict, type SitePrediction, type Topology } from '@synrace/netem-profiles';
import { resolveProfile, resolveTopology } from '../src/inputs/lab-inputs';
import type { RaceMode } from '@synrace/agents';
import { renderHtmlReport, writeHtmlReport, type ReportInput, type SiteRaces } from '../src/report/html-report';
import { tapToJunit } from '../src/report/junit';
import { readRaceTimelines, type RaceTimeline } from '../src/report/race-timeline';
import { raceTimelineSvg, selectionMatrixSvg } from '../src/report/svg';
import { candidateBoards, judgeSite, type SiteVerdict } from '../src/verify';

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'report');

/** xmllint on a document from stdin; throws with xmllint's complaint when the document is not well-formed. */
function xmllint(doc: string, ...args: string[]): string {
  return execFileSync('xmllint', [...args, '-'], { input: doc, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}
const assertWellFormed = (doc: string) => assert.equal(xmllint(doc, '--noout'), '');
/** XPath on elements by local name, so that the XHTML namespace of the report needs no prefix. */
const xpath = (doc: string, expr: string) => xmllint(doc, '--xpath', expr).trim();
const countOf = (doc: string, element: string, predicate = '') => Number(xpath(doc, `count(//*[local-name()="${element}"]${predicate})`));

interface World {
  topology: Topology;
  predictions: SitePrediction[];
  boardsByAddress: Map<string, string>;
}

function world(): World {
  const topology = loadTopology(resolveTopology('world'));
  const predictions = predict(topology, loadProfile(resolveProfile('world'), topology));
  const hosts = boardsWithRole(topology, 'client-host').map((h): [string, string] => [addressOf(interfaceOn(h, 'lan')!.address), h.name]);
  return { topology, predictions, boardsByAddress: new Map([...candidateBoards(topology), ...hosts]) };
}

const hostAddress = (w: World, host: string) => [...w.boardsByAddress].find(([, b]) => b === host)![0];
const addressOfBoard = (w: World, board: string) => [...candidateBoards(w.topology)].find(([, b]) => b === board)![0];

/** Two connections per site and mode, each served by the predicted winner, except where `served` says otherwise. */
function verdicts(w: World, served: (site: string, mode: RaceMode, port: number) => string | undefined = () => undefined): SiteVerdict[] {
  return (['plain', 'synchronized'] as RaceMode[]).flatMap((mode) =>
    w.predictions.map((p) => {
      const predicted = mode === 'plain' ? p.winner : p.syncWinner;
      const ports = p.clientSite === 'saopaulo' && mode === 'plain' ? [37080, 37180] : [40001, 40002];
      const by = ports.map((port) => served(p.clientSite, mode, port) ?? predicted);
      const host = hostAddress(w, p.hostBoard);
      const observed = ports.map((clientPort, i) => ({ clientPort, servedBy: by[i], handshakeMs: 200, httpCode: 200 }));
      const table = { entries: ports.map((port, i) => ({ client: `${host}:${port}`, state: 'replica', winner: addressOfBoard(w, by[i]), via: 'race' as const })) };
      return judgeSite(p, mode, mode, observed, table, host, candidateBoards(w.topology));
    }));
}

const tokyoPlainSecondToOrigin = (site: string, mode: RaceMode, port: number) => (site === 'tokyo' && mode === 'plain' && port === 40002 ? 'lon-origin' : undefined);

function input(w: World, v: SiteVerdict[], races: SiteRaces[]): ReportInput {
  return {
    lab: { topology: 'world', profile: 'world', delayMode: 'userspace', configuration: 'A', date: new Date('2026-11-26T14:30:00Z') },
    verdicts: v,
    predictions: w.predictions,
    races,
    boardsByAddress: w.boardsByAddress,
  };
}

describe('report: SVG, HTML and JUnit documents', () => {
  let w: World;
  let saoRaces: RaceTimeline[];
  before(async function () {
    try {
      execFileSync('xmllint', ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error('xmllint is missing (Debian package libxml2-utils): these tests check well-formedness with it');
    }
    w = world();
    saoRaces = await readRaceTimelines(join(FIXTURES, 'race-A-sao-gw-wan0.pcap'));
  });

  describe('race timeline SVG', () => {
    it('is well-formed and marks the winner and every reset', () => {
      const svg = raceTimelineSvg('saopaulo, plain race', saoRaces, w.boardsByAddress, 'rep-iad');
      assertWellFormed(svg);
      assert.equal(countOf(svg, 'g', '[@class="winner"]'), 2);
      assert.equal(countOf(svg, 'g', '[@class="reset"]'), 3 + 4);
      assert.equal(countOf(svg, 'g', '[@class="answer"]'), 3 + 4);
      assert.equal(xpath(svg, 'string(//*[@class="winner"]/*[local-name()="text"])'), 'winner rep-iad 221.8 ms');
      assert.doesNotMatch(svg, /✗/, 'no row fails when rep-iad was expected');
    });

    it('flags every row whose winner is not the expected one', () => {
      const svg = raceTimelineSvg('saopaulo, plain race', saoRaces, w.boardsByAddress, 'rep-mia');
      assert.equal(svg.match(/✗ port/g)?.length, 2);
    });
  });

  describe('selection matrix SVG', () => {
    it('has a cell per site and candidate, with both modes predicted and observed', () => {
      const svg = selectionMatrixSvg(w.predictions, verdicts(w));
      assertWellFormed(svg);
      assert.equal(countOf(svg, 'g', '[starts-with(@class, "cell")]'), 4 * 5);
      assert.equal(countOf(svg, 'g', '[@class="cell mismatch"]'), 0);
      for (const p of w.predictions) assert.ok(svg.includes(`>${p.clientSite}<`), p.clientSite);
      // saopaulo: plain to rep-iad, synchronized to rep-mia, per the world profile.
      const sao = w.predictions.findIndex((p) => p.clientSite === 'saopaulo');
      const saoCell = (board: string) => xpath(svg, `string(//*[@class="site"][${sao + 1}]/*[@class="cell"][${w.predictions[sao].candidates.findIndex((c) => c.board === board) + 1}])`);
      assert.match(saoCell('rep-iad'), /P.*p 2\/2.*C/);
      assert.match(saoCell('rep-mia'), /S.*s 2\/2/);
      assert.doesNotMatch(saoCell('lon-origin'), /[PSC]\b|\d\/2/);
    });

    it('turns red the cells where observation and prediction disagree', () => {
      const svg = selectionMatrixSvg(w.predictions, verdicts(w, tokyoPlainSecondToOrigin));
      // tokyo's predicted rep-iad served 1 of 2, and lon-origin served one it should not have.
      assert.equal(countOf(svg, 'g', '[@class="cell mismatch"]'), 2);
      assert.match(xpath(svg, 'string(//*[@class="cell mismatch"][1])'), /p 1\/2/);
    });
  });

  describe('HTML report', () => {
    it('is one well-formed, self-contained document naming every site and race winner', () => {
      const html = renderHtmlReport(input(w, verdicts(w), [{ clientSite: 'saopaulo', mode: 'plain', timelines: saoRaces }]));
      assertWellFormed(html);
      assert.doesNotMatch(html, /\b(src|href)=|url\(|@import|<script/, 'nothing is fetched');
      for (const p of w.predictions) assert.ok(html.includes(`${p.clientSite} (gateway ${p.gatewayBoard}`), p.clientSite);
      assert.equal(countOf(html, 'svg'), 2, 'the matrix and saopaulo\'s timeline');
      assert.match(html, /winner rep-iad 222\.2 ms/);
      assert.match(xpath(html, 'string(//*[@class="summary pass"])'), /^10 passed, 0 failed \(10 checks/);
      assert.equal(countOf(html, 'section', '[@id="failures"]'), 0);
    });

    it('makes a failed verdict stand out with its gateway, boards, connection key and packets', () => {
      const html = renderHtmlReport(input(w, verdicts(w, tokyoPlainSecondToOrigin), [{ clientSite: 'saopaulo', mode: 'plain', timelines: saoRaces }]));
      assertWellFormed(html);
      assert.match(xpath(html, 'string(//*[@class="summary fail"])'), /^9 passed, 1 failed/);
      assert.equal(countOf(html, 'div', '[@class="failure"]'), 1);
      const failure = xpath(html, 'string(//*[@class="failure"])');
      assert.match(failure, /tokyo, plain race: predicted rep-iad, observed rep-iad, lon-origin/);
      assert.match(failure, /boards: tyo-gw, rep-iad, lon-origin/);
      assert.match(failure, /connection 10\.3\.0\.10:40002 -> 10\.10\.0\.80:80: served by lon-origin/);
      assert.equal(countOf(html, 'tr', '[@class="fail"]'), 1, 'one failing row in the per-site tables');
    });

    it('fails a race whose capture misses the winner, quoting its packets', async () => {
      const timelines = await readRaceTimelines(join(FIXTURES, 'race-C-port80-only-sao-gw-wan0.pcap'));
      const html = renderHtmlReport(input(w, verdicts(w), [{ clientSite: 'saopaulo', mode: 'plain', timelines }]));
      assertWellFormed(html);
      const failure = xpath(html, 'string(//*[@class="failure"])');
      assert.match(failure, /saopaulo, plain race, gateway capture: expected rep-iad to answer first, the capture shows no winner/);
      assert.match(failure, /boards: sao-gw, rep-iad/);
      assert.match(failure, /connection 10\.2\.0\.10:44230 -> 10\.10\.0\.80:80/);
      assert.match(failure, /10\.2\.0\.10\.44230 > 10\.10\.0\.80\.80: Flags \[R\]/, 'the RST to the origin is quoted');
    });
  });

  describe('HTML report in headless Chromium', () => {
    let dir: string;
    // scripts/setup.sh installs Debian's chromium: it is there wherever the tests run.
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'synrace-report-'));
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    function screenshot(html: string, name: string): Buffer {
      const png = join(dir, `${name}.png`);
      execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-first-run', `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${png}`, '--window-size=1280,2000', `file://${html}`], { stdio: 'ignore', timeout: 60_000 });
      return readFileSync(png);
    }

    it('renders to a screenshot with far more on it than an empty page', function () {
      this.timeout(120_000);
      const report = writeHtmlReport(join(dir, 'report.html'), input(w, verdicts(w, tokyoPlainSecondToOrigin), [{ clientSite: 'saopaulo', mode: 'plain', timelines: saoRaces }]));
      const empty = join(dir, 'empty.html');
      writeFileSync(empty, '<!DOCTYPE html><html><body></body></html>');
      const [shot, blank] = [screenshot(report, 'report'), screenshot(empty, 'empty')];
      assert.equal(shot.subarray(1, 4).toString(), 'PNG');
      assert.deepEqual([shot.readUInt32BE(16), shot.readUInt32BE(20)], [1280, 2000], 'IHDR width and height');
      // A white page compresses to almost nothing; text, tables and drawings do not.
      assert.ok(shot.length > 10 * blank.length, `report ${shot.length} bytes vs empty page ${blank.length} bytes`);
    });
  });

  describe('JUnit from TAP', () => {
    for (const [version, file] of [['12', 'mocha-tap.txt'], ['13', 'mocha-tap13.txt']]) {
      it(`counts passes, the failure and the skip of mocha's TAP ${version}, escaped`, () => {
        const xml = tapToJunit(readFileSync(join(FIXTURES, file), 'utf8'), 'synrace');
        assertWellFormed(xml);
        const suite = (attr: string) => Number(xpath(xml, `string(//testsuite/@${attr})`));
        assert.deepEqual(['tests', 'failures', 'skipped', 'errors'].map(suite), [5, 1, 1, 0]);
        assert.equal(countOf(xml, 'testcase'), 5);
        assert.equal(countOf(xml, 'failure'), 1);
        assert.equal(countOf(xml, 'skipped'), 1);
        assert.equal(xpath(xml, 'string(//failure/@message)'), 'expected 4 RSTs <from gateway> & "switch"');
        assert.match(xpath(xml, 'string(//failure)'), /at Context\.<anonymous> \(sample\.spec\.js:5:51\)/);
        assert.equal(xpath(xml, 'string(//testcase[failure]/@name)'), 'race <verify> & "junit" resets every late answerer');
        assert.equal(xpath(xml, 'string(//testcase[5]/@name)'), 'race <verify> & "junit" reports ]]> inside names');
      });
    }

    it('reports a run that died before its plan as an error', () => {
      const xml = tapToJunit('ok 1 boots\nnot ok 2 provisions\n', 'synrace');
      assertWellFormed(xml);
      assert.equal(xpath(xml, 'string(//testsuite/@errors)'), '1');
      assert.equal(xpath(xml, 'string(//error/@message)'), 'no plan');
      assert.equal(xpath(xml, 'string(//testsuite/@failures)'), '1');
    });
  });
});
