import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

@Suite struct SecretRedactorTests {
    @Test(arguments: [
        ("HF_TOKEN", true), ("WANDB_API_KEY", true), ("AWS_SECRET_ACCESS_KEY", true), ("DB_PASSWORD", true),
        ("github_token", true), ("SSH_PRIVATE_KEY", true), ("HF_HUB_OFFLINE", false), ("PATH", false), ("KEYBOARD", false),
    ])
    func secretLookingNames(name: String, secret: Bool) {
        #expect(SecretRedactor.looksSecret(name) == secret)
    }

    @Test func masksEveryOccurrenceLongestFirstAndKeepsOtherBytes() {
        let redactor = SecretRedactor(["hf_abcdef", "hf_abcdef_long", "tiny"])
        #expect(redactor.redact("a hf_abcdef_long b hf_abcdef c tiny") == "a *** b *** c tiny")
        let invalid: [UInt8] = [0xFF, 0xFE] + Array("hf_abcdef".utf8) + [0xC3]
        #expect(redactor.redact(invalid) == [0xFF, 0xFE] + Array("***".utf8) + [0xC3])
    }

    @Test func aSecretSplitAcrossChunksIsStillMasked() {
        let stream = RedactingStream(SecretRedactor(["hf_abcdefgh"]))
        var shown = Data()
        for piece in ["token=hf_ab", "cdefgh\nprogress 10%\r", "progress 20%\rlast hf_abc", "defgh"] {
            shown += stream.feed(Data(piece.utf8))
        }
        #expect(String(decoding: shown, as: UTF8.self) == "token=***\nprogress 10%\rprogress 20%\r")
        shown += stream.finish()
        #expect(String(decoding: shown, as: UTF8.self) == "token=***\nprogress 10%\rprogress 20%\rlast ***")
    }

    @Test func withoutSecretsChunksPassUntouchedAndAtOnce() {
        let stream = RedactingStream(SecretRedactor([]))
        #expect(stream.feed(Data("no newline yet".utf8)) == Data("no newline yet".utf8))
    }

    @Test func writingAfterCloseOrToAClosedPipeDoesNotCrash() throws {
        let directory = try temporaryDirectory()
        let path = directory.appending(path: "log").path
        let file = try #require(OutputFile.create(atPath: path))
        file.write("kept\n")
        file.close()
        file.write("dropped\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "kept\n")
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
    }
}
