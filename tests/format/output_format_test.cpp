#include "format/output_format.h"

#include <gtest/gtest.h>

namespace earshot {
namespace {

TEST(OutputFormatTest, ParsesEveryNameOfTheCliAndTheApi) {
  EXPECT_EQ(parse_output_format("txt"), OutputFormat::kText);
  EXPECT_EQ(parse_output_format("text"), OutputFormat::kText);
  EXPECT_EQ(parse_output_format("json"), OutputFormat::kJson);
  EXPECT_EQ(parse_output_format("verbose_json"), OutputFormat::kVerboseJson);
  EXPECT_EQ(parse_output_format("srt"), OutputFormat::kSrt);
  EXPECT_EQ(parse_output_format("vtt"), OutputFormat::kVtt);
  EXPECT_EQ(parse_output_format("tsv"), OutputFormat::kTsv);
}

TEST(OutputFormatTest, RejectsUnknownNames) {
  for (const char* name : {"", "SRT", "Json", "verbose-json", "all", "csv", " srt", "srt "}) {
    EXPECT_EQ(parse_output_format(name), std::nullopt) << '"' << name << '"';
  }
}

TEST(OutputFormatTest, NamesRoundTrip) {
  for (auto format : {OutputFormat::kText, OutputFormat::kJson, OutputFormat::kVerboseJson,
                      OutputFormat::kSrt, OutputFormat::kVtt, OutputFormat::kTsv}) {
    EXPECT_EQ(parse_output_format(output_format_name(format)), format);
    EXPECT_NE(kOutputFormatNames.find(output_format_name(format)), std::string_view::npos);
  }
}

TEST(OutputFormatTest, ContentTypesFollowOpenAi) {
  EXPECT_EQ(content_type(OutputFormat::kJson), "application/json");
  EXPECT_EQ(content_type(OutputFormat::kVerboseJson), "application/json");
  EXPECT_EQ(content_type(OutputFormat::kText), "text/plain; charset=utf-8");
  EXPECT_EQ(content_type(OutputFormat::kSrt), "text/plain; charset=utf-8");
  EXPECT_EQ(content_type(OutputFormat::kVtt), "text/plain; charset=utf-8");
  EXPECT_EQ(content_type(OutputFormat::kTsv), "text/plain; charset=utf-8");
}

TEST(OutputFormatTest, FileExtensions) {
  EXPECT_EQ(file_extension(OutputFormat::kText), "txt");
  EXPECT_EQ(file_extension(OutputFormat::kJson), "json");
  EXPECT_EQ(file_extension(OutputFormat::kVerboseJson), "json");
  EXPECT_EQ(file_extension(OutputFormat::kSrt), "srt");
  EXPECT_EQ(file_extension(OutputFormat::kVtt), "vtt");
  EXPECT_EQ(file_extension(OutputFormat::kTsv), "tsv");
}

}  // namespace
}  // namespace earshot
