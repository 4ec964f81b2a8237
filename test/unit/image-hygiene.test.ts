/**
 * Image and compose hygiene (issue 18 item 3), checked statically: the OCI labels carry
 * package.json's version, the healthcheck starts no Node process, every port is published
 * on 127.0.0.1 by default, the idalloc containers run read-only with a NODE_ID each, and
 * Grafana is optional, without an admin/admin sign-in, with provisioning files Grafana
 * would load. test/containers/stack.test.ts runs the same files for real under podman.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('image and compose hygiene (issue 18)', () => {
  const compose = read('docker-compose.yml');

  it('labels the image with the OCI keys and the version of package.json', () => {
    const dockerfile = read('Dockerfile');
    const pkg = JSON.parse(read('package.json')) as { version: string };
    expect(dockerfile).toContain(`ARG IDALLOC_VERSION=${pkg.version}\n`);
    for (const key of ['title', 'description', 'version', 'licenses', 'source']) {
      expect(dockerfile).toContain(`org.opencontainers.image.${key}=`);
    }
    // No Node process per health probe.
    expect(dockerfile).toMatch(/^ {4}CMD \["bash", "-c", "exec 3<>\/dev\/tcp\//m);
  });

  it('publishes every port on 127.0.0.1 unless PUBLISH_ADDRESS says otherwise', () => {
    const ports = [...compose.matchAll(/^ {6}- '([^']*:\d+)'$/gm)].map((m) => m[1]);
    expect(ports.length).toBeGreaterThanOrEqual(4);
    for (const port of ports) expect(port).toMatch(/^\$\{PUBLISH_ADDRESS:-127\.0\.0\.1\}:/);
  });

  it('runs the idalloc containers read-only, names each node, and keeps Grafana optional without admin/admin', () => {
    for (const service of ['idalloc-1', 'idalloc-2']) {
      expect(compose).toContain(`  ${service}:\n    <<: *idalloc-node\n`);
      expect(compose).toMatch(new RegExp(`NODE_ID: ${service}\\n`));
    }
    expect(compose.match(/^ {2,4}read_only: true$/gm)?.length).toBe(3);
    const grafana = compose.slice(compose.indexOf('\n  grafana:'), compose.indexOf('\nconfigs:'));
    expect(grafana).toContain('profiles: [grafana]');
    expect(grafana).not.toMatch(/PASSWORD:-admin/);
  });

  it('provisions Grafana with a valid data source and dashboard provider', () => {
    const ds = parseYaml(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      apiVersion: number;
      datasources: { type: string; url: string; uid: string }[];
    };
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const dashboards = parseYaml(read('deploy/grafana/provisioning/dashboards/idalloc.yml')) as {
      apiVersion: number;
      providers: { type: string; options: { path: string } }[];
    };
    expect(dashboards.apiVersion).toBe(1);
    const path = dashboards.providers[0]?.options.path;
    expect(dashboards.providers[0]?.type).toBe('file');
    // The folder compose mounts the dashboards on, and the home dashboard inside it.
    expect(compose).toContain(`- ./deploy/grafana/dashboards:${path}:ro`);
    expect(compose).toContain(`GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: ${path}/idalloc.json`);
  });
});
