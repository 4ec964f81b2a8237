/**
 * The package's version, the one answer to "which idalloc is this": `idalloc --version`,
 * `idalloc-admin --version`, the OpenAPI document and the node's identity in `/v1/status`.
 * A constant rather than a read of package.json, so no part reads files for it;
 * test/integration/openapi.test.ts holds it equal to package.json's `version`.
 */
export const PACKAGE_VERSION = '0.1.0';
