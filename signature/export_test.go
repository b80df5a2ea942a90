package signature

// Internal names exported to the external tests of this package.
const MaxSignatureEntries = maxSignatureEntries
